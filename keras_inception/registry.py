"""Name -> builder registry: `get_model("googlenet", num_classes=10)` and `list_models()`."""

import inspect

_BUILDERS = {}


def register_model(name, builder=None):
    """Registers `builder` under `name`; usable as `@register_model("name")` too.

    Registering a name twice is refused, so one module cannot silently replace another's net.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"A model name must be a non-empty string. Received: name={name!r}")

    def decorator(fn):
        if name in _BUILDERS:
            raise ValueError(
                f"A model named {name!r} is already registered "
                f"(by {_BUILDERS[name].__module__}). Received: name={name!r}"
            )
        if not callable(fn):
            raise TypeError(f"A model builder must be callable. Received: builder={fn!r}")
        _BUILDERS[name] = fn
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
        raise ValueError(
            f"Unknown model name. Known models: {', '.join(list_models())}. Received: name={name!r}"
        )
    return _BUILDERS[name]


def get_model(name, **kwargs):
    """Builds the registered model `name` with the builder's keyword arguments.

    None is passed on as a value (`classifier_activation=None` means logits); scripts drop
    unset flags themselves (`keras_inception.cli.set_flags`) so they never override a net's
    own defaults.
    """
    builder = get_builder(name)
    accepted = accepted_arguments(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"Model {name!r} takes no argument {unknown[0]!r}; it takes: {', '.join(accepted)}. "
            f"Received: {unknown[0]}={kwargs[unknown[0]]!r}"
        )
    return builder(**kwargs)


def accepted_arguments(name):
    """The keyword arguments the builder registered under `name` accepts."""
    parameters = inspect.signature(get_builder(name)).parameters.values()
    return [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
