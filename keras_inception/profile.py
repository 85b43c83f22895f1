"""Parameters and multiply-adds per layer, per block and in total; a registered net's summary
(`summarize`, which the specs are held to); and the README's table of nets from the specs
(`zoo_table`).

Multiply-adds are counted for the layers that hold a kernel (convolutions of any kind,
dense layers): output positions x kernel size, which is the usual convention (the papers'
"ops", torchvision's GFLOPS column). Batch norm, pooling, LRN and activations count 0.

Blocks come from layer names, which every net here follows:
1. a layer belongs to the shortest other layer whose name prefixes its own at an underscore
   ("inception_3a_pool_proj_conv" belongs to the concatenation "inception_3a");
2. a layer whose name prefixes others' heads its own block ("inception_3a");
3. otherwise a layer belongs to the first word of its name when other layers share that word
   ("stem_conv1_conv" -> "stem");
4. otherwise it is a block of its own ("pool3").
"""

import math
from dataclasses import dataclass

import keras

KERNEL_WEIGHTS = ("kernel", "depthwise_kernel", "pointwise_kernel")


@dataclass(frozen=True)
class LayerProfile:
    name: str
    block: str
    kind: str
    output_shape: tuple
    params: int
    macs: int


@dataclass(frozen=True)
class BlockProfile:
    name: str
    output_shape: tuple
    params: int
    macs: int


@dataclass(frozen=True)
class Profile:
    model_name: str
    layers: tuple

    @property
    def params(self):
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self):
        return sum(layer.macs for layer in self.layers)

    @property
    def blocks(self):
        """{block name: BlockProfile} in network order; the output is the block's last layer's."""
        grouped = {}
        for layer in self.layers:
            previous = grouped.get(layer.block)
            params = layer.params + (previous.params if previous else 0)
            macs = layer.macs + (previous.macs if previous else 0)
            grouped[layer.block] = BlockProfile(layer.block, layer.output_shape, params, macs)
        return grouped

    def block_table(self):
        rows = [(b.name, _shape(b.output_shape), f"{b.params:,}", _millions(b.macs))
                for b in self.blocks.values()]
        return self._table(("block", "output", "params", "MACs"), rows)

    def layer_table(self):
        rows = [(l.name, l.kind, _shape(l.output_shape), f"{l.params:,}", _millions(l.macs))
                for l in self.layers]
        return self._table(("layer", "type", "output", "params", "MACs"), rows)

    def _table(self, header, rows):
        rows = [header, *rows, ("total", *[""] * (len(header) - 3), f"{self.params:,}",
                                _millions(self.macs))]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [f"{self.model_name}: {self.params:,} parameters, {self.macs / 1e9:.3f} G multiply-adds"]
        for index, row in enumerate(rows):
            cells = [cell.ljust(w) if i < len(row) - 2 else cell.rjust(w)
                     for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if index in (0, len(rows) - 2):
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __str__(self):
        return self.block_table()


def profile(model):
    """Profiles a built functional Keras model; returns a `Profile` (print it for a table)."""
    leaf_layers = list(_leaf_layers(model))
    names = {layer.name for layer in leaf_layers}
    first_words = [layer.name.split("_")[0] for layer in leaf_layers]
    rows = []
    for layer in leaf_layers:
        output_shape = tuple(layer.output.shape[1:]) if not _is_input(layer) else tuple(layer.batch_shape[1:])
        rows.append(LayerProfile(
            name=layer.name,
            block=_block_of(layer.name, names, first_words),
            kind=type(layer).__name__,
            output_shape=output_shape,
            params=layer.count_params() if layer.built else 0,
            macs=_macs(layer, output_shape),
        ))
    return Profile(model.name, tuple(rows))


def _leaf_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _is_input(layer):
    return isinstance(layer, keras.layers.InputLayer)


def _block_of(name, names, first_words):
    parts = name.split("_")
    for end in range(1, len(parts)):
        prefix = "_".join(parts[:end])
        if prefix in names:
            return prefix
    if any(other.startswith(name + "_") for other in names):
        return name
    if first_words.count(parts[0]) > 1:
        return parts[0]
    return name


def _macs(layer, output_shape):
    kernel_size = sum(
        math.prod(getattr(layer, attr).shape) for attr in KERNEL_WEIGHTS
        if getattr(layer, attr, None) is not None and hasattr(getattr(layer, attr), "shape")
    )
    if not kernel_size:
        return 0
    positions = math.prod(dim for dim in output_shape[:-1] if dim is not None)
    return positions * kernel_size


def _shape(shape):
    return "x".join("?" if dim is None else str(dim) for dim in shape)


def _millions(count):
    return f"{count / 1e6:,.1f}M"


@dataclass(frozen=True)
class NetSummary:
    """A registered net built with its defaults: what the README's table shows, and the
    shapes the tests check against the papers."""

    name: str
    input_shape: tuple
    outputs: dict  # output name -> shape (batch dimension dropped)
    params: int  # all weights, batch-norm moving statistics included (Keras's count)
    trainable_params: int  # what PyTorch counts
    macs: int  # of the inference net (auxiliary heads dropped)
    endpoints: dict  # endpoint name -> feature-map shape
    endpoint_strides: dict  # endpoint name -> the product of the strides from the input to it


def summarize(name, **kwargs):
    """Builds the registered net `name` (with `kwargs`) and summarizes it."""
    from keras_inception import registry
    from keras_inception.models.multi_output import inference_model

    model = registry.get_model(name, **kwargs)
    outputs = {
        output: tuple(model.get_layer(output).output.shape[1:]) for output in model.output_names
    }
    return NetSummary(
        name=name,
        input_shape=tuple(model.input_shape[1:]),
        outputs=outputs,
        params=model.count_params(),
        trainable_params=sum(math.prod(weight.shape) for weight in model.trainable_weights),
        macs=profile(inference_model(model)).macs,
        endpoints={
            endpoint: tuple(model.get_layer(endpoint).output.shape[1:])
            for endpoint in registry.endpoint_names(name)
        },
        endpoint_strides={endpoint: path_stride(model, endpoint) for endpoint in registry.endpoint_names(name)},
    )


def layer_producers(model):
    """{id(tensor): the layer of `model` whose output it is}, to walk a graph back from a layer."""
    return {id(layer.output): layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)}


def path_stride(model, layer_name):
    """The product of the strides of the layers from `model`'s input to the layer `layer_name`
    (timm's `reduction`): the input's pixels per step of that layer's map. Every path to a map
    downsamples alike, so the walk back follows each layer's first input."""
    producers = layer_producers(model)
    stride, layer = 1, model.get_layer(layer_name)
    while layer is not None:
        strides = getattr(layer, "strides", None) or (1,)
        stride *= strides[0]
        inputs = layer.input
        layer = producers.get(id(inputs[0] if isinstance(inputs, (list, tuple)) else inputs))
    return stride


def zoo_table(specs):
    """A Markdown table of nets from their `NetSpec`s: parameters, multiply-adds, default
    input, auxiliary heads."""
    lines = [
        "| net | parameters | trainable | multiply-adds | input | auxiliary heads |",
        "|---|--:|--:|--:|---|---|",
    ]
    for spec in specs:
        lines.append(
            f"| `{spec.name}` | {spec.params:,} | {spec.trainable_params:,} "
            f"| {_giga_or_mega(spec.macs)} | {_shape(spec.input_shape).replace('x', '×')} "
            f"| {', '.join(f'`{name}`' for name in sorted(spec.aux_heads)) or '—'} |"
        )
    return "\n".join(lines)


def _giga_or_mega(count):
    return f"{count / 1e9:.2f} G" if count >= 1e8 else f"{count / 1e6:.2f} M"
