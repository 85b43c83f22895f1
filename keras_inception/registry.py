"""Name -> builder registry: `get_model("googlenet", num_classes=10)`, `list_models()`, and
the named feature maps of each net (`endpoint_names`, `get_feature_extractor`)."""

import inspect

import keras

from keras_inception.validation import UnexpectedArgument, UsageError

_BUILDERS = {}
_ENDPOINTS = {}


def register_model(name, builder=None, *, endpoints=()):
    """Registers `builder` under `name`; usable as `@register_model("name")` too.

    `endpoints` names the layers whose outputs are the net's feature maps, in network order
    (they exist in the net built with `include_top=False`). Registering a name twice is
    refused, so one module cannot silently replace another's net.
    """
    if not isinstance(name, str) or not name:
        raise UsageError(f"A model name must be a non-empty string. Received: name={name!r}")

    def decorator(fn):
        if name in _BUILDERS:
            raise UsageError(
                f"A model named {name!r} is already registered "
                f"(by {_BUILDERS[name].__module__}). Received: name={name!r}"
            )
        if not callable(fn):
            raise TypeError(f"A model builder must be callable. Received: builder={fn!r}")
        _BUILDERS[name] = fn
        _ENDPOINTS[name] = tuple(endpoints)
        return fn

    if builder is not None:
        return decorator(builder)
    return decorator


def list_models():
    """Returns the registered model names, sorted."""
    return sorted(_BUILDERS)


def get_builder(name):
    """Returns the builder registered under `name`."""
    if name not in _BUILDERS:
        raise UsageError(
            f"Unknown model name. Known models: {', '.join(list_models())}. Received: name={name!r}"
        )
    return _BUILDERS[name]


def get_model(name, /, **kwargs):
    """Builds the registered model `name` with the builder's keyword arguments.

    None is passed on as a value (`classifier_activation=None` means logits); scripts drop
    unset flags themselves (`keras_inception.cli.set_flags`) so they never override a net's
    own defaults. `weights="imagenet"` converts a known checkpoint found in the local caches
    (`keras_inception.pretrained.imagenet`); nothing is downloaded.
    """
    builder = get_builder(name)
    accepted = accepted_arguments(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise UnexpectedArgument(
            f"Model {name!r} takes no argument {unknown[0]!r}; it takes: {', '.join(accepted)}. "
            f"Received: {unknown[0]}={kwargs[unknown[0]]!r}"
        )
    if kwargs.get("weights") == "imagenet":
        from keras_inception.pretrained.imagenet import imagenet_model

        return imagenet_model(name, **{key: value for key, value in kwargs.items() if key != "weights"})
    return builder(**kwargs)


def accepted_arguments(name):
    """The keyword arguments the builder registered under `name` accepts."""
    parameters = inspect.signature(get_builder(name)).parameters.values()
    return [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def endpoint_names(name):
    """The feature-map endpoints of the registered net `name`, in network order."""
    get_builder(name)
    return _ENDPOINTS[name]


def get_feature_extractor(name, /, endpoints=None, **kwargs):
    """Builds `name` without its top and returns a model whose output is a dict
    {endpoint: feature map} (all of the net's endpoints, or those named in `endpoints`).

        extractor = get_feature_extractor("resnet50", input_shape=(224, 224, 3))
        maps = extractor(images)  # {"conv1_relu": ..., "conv2_block3_out": ..., ...}
    """
    known = endpoint_names(name)
    if endpoints is None:
        endpoints = known
    if isinstance(endpoints, str) or not all(endpoint in known for endpoint in endpoints):
        raise UsageError(
            f"`endpoints` must be a list of {name!r}'s endpoints: {', '.join(known)}. "
            f"Received: endpoints={endpoints!r}"
        )
    if kwargs.get("include_top"):
        raise UsageError(
            f"A feature extractor is built without the top. Received: include_top={kwargs['include_top']!r}"
        )
    model = get_model(name, **{**kwargs, "include_top": False})
    outputs = {endpoint: model.get_layer(endpoint).output for endpoint in endpoints}
    return keras.Model(model.input, outputs, name=f"{model.name}_features")
