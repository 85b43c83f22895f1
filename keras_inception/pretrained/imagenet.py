"""`get_model(name, weights="imagenet")`: a known checkpoint of the net, found in the caches that
torch hub, the Hugging Face hub and Keras fill, converted on load. The network is never used.

Where a file is looked for (each folder as its library resolves it):

- torch hub: `$TORCH_HOME/hub/checkpoints/` (default `~/.cache/torch/hub/checkpoints/`);
- Hugging Face hub: `$HF_HUB_CACHE` (default `~/.cache/huggingface/hub/`), the main revision
  of `timm/<id>` as huggingface_hub's `try_to_load_from_cache` finds it;
- Keras: `$KERAS_HOME/models/` (default `~/.keras/models/`), where keras.applications keeps the
  `.h5` files it fetched.
"""

import os

from keras_inception.validation import UsageError

TORCH_DOWNLOADS = "https://download.pytorch.org/models/"
# Our net (and batch_norm for VGG) -> the source net and its checkpoints, the best first:
# torchvision files by name, timm hub IDs.
KNOWN = {
    "alexnet_torchvision": ("alexnet", ["alexnet-owt-7be5be79.pth", "alexnet-owt-4df8aa71.pth"], []),
    "googlenet_torchvision": ("googlenet", ["googlenet-1378be20.pth"], []),
    "inception_v3": ("inception_v3", ["inception_v3_google-0cc3c7bd.pth"],
                     ["inception_v3.tf_in1k", "inception_v3.tv_in1k"]),
    "resnet18": ("resnet18", ["resnet18-f37072fd.pth"], ["resnet18.a1_in1k", "resnet18.tv_in1k"]),
    "resnet34": ("resnet34", ["resnet34-b627a593.pth"], ["resnet34.a1_in1k", "resnet34.tv_in1k"]),
    "resnet50": ("resnet50", ["resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth"],
                 ["resnet50.tv2_in1k", "resnet50.a1_in1k", "resnet50.tv_in1k"]),
    "resnet101": ("resnet101", ["resnet101-cd907fc2.pth", "resnet101-63fe2227.pth"],
                  ["resnet101.tv2_in1k", "resnet101.a1_in1k", "resnet101.tv_in1k"]),
    "resnet152": ("resnet152", ["resnet152-f82ba261.pth", "resnet152-394f9c45.pth"],
                  ["resnet152.tv2_in1k", "resnet152.a1_in1k", "resnet152.tv_in1k"]),
    **{f"vgg{depth}{suffix}": (f"vgg{depth}{suffix}", [f"vgg{depth}{suffix}-{digest}.pth"],
                               [f"vgg{depth}{suffix}.tv_in1k"])
       for (depth, suffix), digest in {(11, ""): "8a719046", (13, ""): "19584684", (16, ""): "397923af",
                                       (19, ""): "dcbb9e9d", (11, "_bn"): "6002323d", (13, "_bn"): "abd245e5",
                                       (16, "_bn"): "6c64b313", (19, "_bn"): "c79401a0"}.items()},
}
KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"
# Our net -> (keras.applications' net, its file under ~/.keras/models/ and on KERAS_APPLICATIONS).
KERAS_FILES = {
    "inception_v3": ("InceptionV3", "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    "inception_resnet_v2": ("InceptionResNetV2",
                            "inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg16": ("VGG16", "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg19": ("VGG19", "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5"),
    **{f"resnet{depth}": (f"ResNet{depth}", f"resnet/resnet{depth}_weights_tf_dim_ordering_tf_kernels.h5")
       for depth in (50, 101, 152)},
}
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


def known_key(name, kwargs):
    """The key of our net `name` built with `kwargs` in `KNOWN` or `KERAS_FILES`, or None."""
    key = name + ("_bn" if name.startswith("vgg") and kwargs.get("batch_norm") else "")
    return key if key in KNOWN or key in KERAS_FILES else None


def _torch_and_timm(key):
    """KNOWN's (source net, torchvision files, timm IDs) of `key`; none for a net that only
    keras.applications publishes (`KERAS_FILES`)."""
    return KNOWN.get(key, (None, [], []))


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


def find_checkpoint(key):
    """(source net, path) of the first known checkpoint of `key` in the caches, or None."""
    source_net, torch_files, timm_ids = _torch_and_timm(key)
    for file_name in torch_files:
        path = os.path.join(torch_hub_checkpoints(), file_name)
        if os.path.isfile(path):
            return source_net, path
    for hub_id in timm_ids:
        path = _hugging_face_cached(f"timm/{hub_id}", "model.safetensors")
        if path:
            return hub_id, os.path.dirname(path)
    if key in KERAS_FILES:
        keras_net, file_name = KERAS_FILES[key]
        path = os.path.join(keras_models(), os.path.basename(file_name))
        if os.path.isfile(path):
            return keras_net, path
    return None


def imagenet_model(name, **kwargs):
    """`get_model(name, weights="imagenet", **kwargs)`; see the module docstring."""
    from keras_inception import pretrained

    key = known_key(name, kwargs)
    if key is None:
        nets = ", ".join(sorted({net.removesuffix("_bn") for net in [*KNOWN, *KERAS_FILES]}))
        raise UsageError(f"No ImageNet checkpoint is known for {name!r}; known: {nets} (VGG with batch_norm "
                         f"too). Received: weights='imagenet'")
    found = find_checkpoint(key)
    if found is None:
        _, torch_files, timm_ids = _torch_and_timm(key)
        places = [f"{torch_files[0]} in {torch_hub_checkpoints()}/ (fetch {TORCH_DOWNLOADS}{torch_files[0]} where "
                  f"there is a network)"] if torch_files else []
        places += [f"the Hugging Face hub's timm/{timm_ids[0]} in {hugging_face_hub()}/ (huggingface-cli download "
                   f"timm/{timm_ids[0]})"] if timm_ids else []
        if key in KERAS_FILES:
            file_name = KERAS_FILES[key][1]
            places.append(f"{os.path.basename(file_name)} in {keras_models()}/ (fetch {KERAS_APPLICATIONS}{file_name})")
        raise UsageError(f"No ImageNet checkpoint of {name} is on this machine, and none is downloaded: put "
                         f"{', or '.join(places)}. Received: weights='imagenet'")
    source_net, path = found
    arguments = {key: value for key, value in kwargs.items() if key != "batch_norm"}
    return pretrained.load(source_net, path, **arguments)
