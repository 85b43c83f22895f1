"""Loading model files that may come from someone else.

    model = load_model("their_model.keras")

A `.keras` file is a zip of `config.json` (which classes to build, with what arguments),
`metadata.json` and the weights. Keras's `safe_mode=True` refuses to run the Python code a
Lambda layer carries. The checks here run first, on the archive as it is, before Keras
builds anything from it:

- only `.keras` files: a legacy `.h5` model would be rebuilt by Keras's legacy HDF5 loader,
  outside these checks and the `.keras` safe-mode path;
- no member that would land outside the archive's folder (an absolute path, or `..`);
- every class the config names is a Keras class or one of this package's, and none is a
  Lambda layer.

Each refusal is one ValueError line naming the file and what was found.
"""

import json
import os
import posixpath
import stat
import zipfile

import keras

from keras_inception.validation import UsageError

LEGACY_EXTENSIONS = (".h5", ".hdf5")
# Class names Keras writes for values rather than objects (tensors, tuples, arrays).
KERAS_VALUE_CLASSES = ("__keras_tensor__", "__tuple__", "__numpy__", "__bytes__", "__tensor__",
                       "__typespec__", "__ellipsis__", "__slice__")
CODE_CLASSES = ("Lambda", "__lambda__")


def load_model(path, compile=True):
    """`keras.saving.load_model(path, safe_mode=True)` once `check_model_file(path)` passes."""
    check_model_file(path)
    return keras.saving.load_model(path, compile=compile, safe_mode=True)


def check_model_file(path, argument="model"):
    """Raises ValueError unless `path` is a `.keras` archive safe to hand to Keras (see the
    module docstring); the message ends "Received: <argument>=<path>"."""
    path = os.fspath(path)
    if path.lower().endswith(LEGACY_EXTENSIONS):
        raise UsageError(
            f"Legacy HDF5 model files are not loaded (only .keras files go through these checks and "
            f"Keras's safe mode); re-save the model with model.save('model.keras') where it was "
            f"trained. Received: {argument}={path!r}"
        )
    if not path.endswith(".keras") or not os.path.isfile(path):
        raise UsageError(f"Expected an existing .keras model file. Received: {argument}={path!r}")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{path} is not a .keras archive (not a zip file). Received: {argument}={path!r}")
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            _check_member(path, member, argument)
        try:
            config = json.loads(archive.read("config.json"))
        except KeyError:
            raise UsageError(f"{path} has no config.json, so it is not a Keras model. "
                             f"Received: {argument}={path!r}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UsageError(f"{path}: config.json is not valid JSON ({error}). Received: {argument}={path!r}") from None
    for node in _class_nodes(config):
        _check_class(path, node, argument)


def _check_member(path, member, argument):
    name = member.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or posixpath.isabs(name) or ".." in parts or ":" in parts[0]:
        raise UsageError(f"{path} holds a member whose path leaves the archive's folder ({name!r}); "
                         f"refusing a crafted archive. Received: {argument}={path!r}")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise UsageError(f"{path} holds a symbolic link ({name!r}); refusing a crafted archive. "
                         f"Received: {argument}={path!r}")


def _class_nodes(value):
    """Every dict in the config that names a class to build."""
    if isinstance(value, dict):
        if "class_name" in value:
            yield value
        for child in value.values():
            yield from _class_nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _class_nodes(child)


def _check_class(path, node, argument):
    class_name, module = node.get("class_name"), node.get("module")
    registered = node.get("registered_name")
    if class_name in CODE_CLASSES:
        raise UsageError(f"{path} holds a Lambda layer, which carries Python code; such files are not "
                         f"loaded. Rebuild the net with registered layers. Received: {argument}={path!r}")
    if module is None and class_name in KERAS_VALUE_CLASSES:
        return
    keras_class = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
    ours = isinstance(module, str) and module.startswith("keras_inception.")
    known_name = registered in (None, class_name) or (ours and str(registered).startswith("keras_inception>"))
    if not (keras_class or ours) or not known_name:
        raise UsageError(
            f"{path} names a class that is neither Keras's nor keras_inception's "
            f"(module={module!r}, class_name={class_name!r}, registered_name={registered!r}); "
            f"refusing to build it. Received: {argument}={path!r}"
        )
