"""Writes a source net's checkpoint and its outputs, with the real torchvision or timm, in a
process of its own: torchvision imported after TensorFlow crashes (triton's native library).

    python tests/torch_reference.py SOURCE NAME SIZE FOLDER
    python tests/torch_reference.py --serve    # the same, one request per line on stdin

A served process answers each request with one line, "done" or "failed", so that a test worker
imports torch once rather than once per net.

The net gets random weights and batch-norm statistics measured on random batches and then
perturbed, with random scales and shifts, so that an epsilon, padding or layout slip shows while
activations stay near unit scale. FOLDER receives the checkpoint (`checkpoint.pth`, or a timm hub
folder `checkpoint/`), `images.npy` (RGB in [0, 1]), `main.npy` and, with a trained auxiliary
head, `aux.npy`: the logits on the images fed the source's normalization. A VGG below 224x224,
where its classifier does not apply, gives its feature map instead (channels last).
"""

import pathlib
import sys

import numpy as np
import torch

TORCHVISION_ARGUMENTS = {"googlenet": dict(transform_input=True, aux_logits=True, init_weights=True),
                         "inception_v3": dict(transform_input=True, aux_logits=True, init_weights=True)}
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def calibrate(model, size):
    generator = torch.Generator().manual_seed(0)
    norms = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over the batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(2, 3, size, size, generator=generator))
        for norm in norms:
            count = norm.num_features
            norm.weight.copy_(1 + 0.2 * torch.randn(count, generator=generator))
            norm.bias.copy_(0.1 * torch.randn(count, generator=generator))
            norm.running_mean.add_(0.1 * norm.running_var.sqrt() * torch.randn(count, generator=generator))
            norm.running_var.mul_(torch.empty(count).uniform_(0.8, 1.25, generator=generator))
    return model.eval()


def main(source, name, size, folder):
    torch.manual_seed(0)
    folder = pathlib.Path(folder)
    size = int(size)
    if source == "torchvision":
        import torchvision

        model = getattr(torchvision.models, name)(**TORCHVISION_ARGUMENTS.get(name, {}))
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        import timm

        aux = {"aux_logits": True} if name == "inception_v3.tv_in1k" else {}
        model = timm.create_model(name, pretrained=False, **aux)
        mean, std = model.pretrained_cfg["mean"], model.pretrained_cfg["std"]
    # Inception v3's auxiliary head runs in training mode, where it needs 299x299.
    calibrate(model, max(size, 299) if "inception" in name else size)
    if source == "torchvision":
        torch.save(model.state_dict(), folder / "checkpoint.pth")
    else:
        from timm.models._hub import save_for_hf  # timm's own writer of hub folders

        save_for_hf(model, str(folder / "checkpoint"), safe_serialization=True)
    images = np.random.default_rng(1).random((2, size, size, 3), dtype=np.float32)
    np.save(folder / "images.npy", images)
    batch = torch.from_numpy(((images - np.float32(mean)) / np.float32(std)).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        if "vgg" in name and size < 224:
            np.save(folder / "main.npy", model.features(batch).numpy().transpose(0, 2, 3, 1))
            return
        main = model(batch)
        np.save(folder / "main.npy", (main[0] if isinstance(main, tuple) else main).numpy())
        if getattr(model, "AuxLogits", None) is not None and size >= 299:
            model.train()  # where the auxiliary head runs, with batch norm and dropout as in eval
            for module in model.modules():
                if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.Dropout)):
                    module.eval()
            both = model(batch)
            np.save(folder / "aux.npy", (both[1] if isinstance(both, tuple) else both.aux_logits).numpy())


def serve():
    import traceback

    for line in sys.stdin:
        try:
            main(*line.split())
            answer = "done"
        except Exception:  # noqa: BLE001 - reported to the test, which fails on it
            traceback.print_exc()
            answer = "failed"
        print(answer, flush=True)


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["--serve"] else main(*sys.argv[1:])
