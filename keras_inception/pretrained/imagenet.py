"""`get_model(name, weights="imagenet")`: a known checkpoint of the net (its spec's
`checkpoints`, the best first), found in the caches that torch hub, the Hugging Face hub and
Keras fill, converted on load. The network is never used.

Where a file is looked for (each folder as its library resolves it):

- torch hub: `$TORCH_HOME/hub/checkpoints/` (default `~/.cache/torch/hub/checkpoints/`);
- Hugging Face hub: `$HF_HUB_CACHE` (default `~/.cache/huggingface/hub/`), the main revision
  of `timm/<id>` as huggingface_hub's `try_to_load_from_cache` finds it;
- Keras: `$KERAS_HOME/models/` (default `~/.keras/models/`), where keras.applications keeps the
  `.h5` files it fetched.
"""

import os

from keras_inception.specs import get_spec, list_specs
from keras_inception.validation import UsageError


def torch_hub_checkpoints():
    """torch hub's checkpoint folder, as `torch.hub.get_dir()` resolves it without torch."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return os.path.join(os.path.expanduser(home), "hub", "checkpoints")


def hugging_face_hub():
    """The Hugging Face hub cache, as huggingface_hub resolves it."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def known_checkpoints(name, kwargs):
    """The published checkpoints of our net `name` built with `kwargs` (VGG with or without
    `batch_norm`), the best first, as its spec lists them."""
    batch_norm = bool(kwargs.get("batch_norm", False))
    return [checkpoint for checkpoint in get_spec(name).checkpoints
            if checkpoint.build.get("batch_norm", False) == batch_norm]


def _hugging_face_cached(repo_id, file_name):
    """The path of `file_name` of the repository's main revision in the Hugging Face hub cache,
    or None: huggingface_hub's own walk of its cache (refs/main, then that snapshot)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ModuleNotFoundError:  # no hub client: nothing can be in its cache here
        return None
    path = try_to_load_from_cache(repo_id, file_name, cache_dir=hugging_face_hub())
    return path if isinstance(path, str) and os.path.isfile(path) else None


def keras_models():
    """keras.applications' download folder (`keras.utils.get_file`'s cache)."""
    return os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "models")


def find_checkpoint(checkpoints):
    """(source net, path) of the first of `checkpoints` in the caches, or None."""
    for checkpoint in checkpoints:
        if checkpoint.source == "torchvision":
            path = os.path.join(torch_hub_checkpoints(), checkpoint.file)
        elif checkpoint.source == "timm":
            path = _hugging_face_cached(f"timm/{checkpoint.file}", "model.safetensors")
            if path:
                return checkpoint.source_net, os.path.dirname(path)
            continue
        else:
            path = os.path.join(keras_models(), os.path.basename(checkpoint.file))
        if os.path.isfile(path):
            return checkpoint.source_net, path
    return None


def _where_to_put(checkpoint):
    """Where the caches would hold `checkpoint`, and how to fetch it where there is a network."""
    if checkpoint.source == "torchvision":
        return f"{checkpoint.file} in {torch_hub_checkpoints()}/ (fetch {checkpoint.url} where there is a network)"
    if checkpoint.source == "timm":
        return (f"the Hugging Face hub's timm/{checkpoint.file} in {hugging_face_hub()}/ (huggingface-cli download "
                f"timm/{checkpoint.file})")
    return f"{os.path.basename(checkpoint.file)} in {keras_models()}/ (fetch {checkpoint.url})"


def imagenet_model(name, **kwargs):
    """`get_model(name, weights="imagenet", **kwargs)`; see the module docstring."""
    from keras_inception import pretrained

    checkpoints = known_checkpoints(name, kwargs)
    if not checkpoints:
        nets = ", ".join(spec_name for spec_name in list_specs() if get_spec(spec_name).checkpoints)
        raise UsageError(f"No ImageNet checkpoint is known for {name!r}; known: {nets} (VGG with batch_norm "
                         f"too). Received: weights='imagenet'")
    found = find_checkpoint(checkpoints)
    if found is None:
        # The first file of each source names where to put it.
        firsts = {}
        for checkpoint in checkpoints:
            firsts.setdefault(checkpoint.source, checkpoint)
        places = [_where_to_put(checkpoint) for checkpoint in firsts.values()]
        raise UsageError(f"No ImageNet checkpoint of {name} is on this machine, and none is downloaded: put "
                         f"{', or '.join(places)}. Received: weights='imagenet'")
    source_net, path = found
    arguments = {key: value for key, value in kwargs.items() if key != "batch_norm"}
    return pretrained.load(source_net, path, **arguments)
