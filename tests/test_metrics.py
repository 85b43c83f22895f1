"""FID against pytorch-fid's own computation, batch by batch, and with fewer images than features."""

import json
import subprocess
import sys

import numpy as np
import pytest

from keras_inception.metrics import FrechetInceptionDistance
from keras_inception.validation import UsageError

# pytorch-fid's Fréchet distance of the statistics it computes (np.mean, np.cov), in a process of
# its own: pytorch-fid imports torchvision, which crashes beside TensorFlow in one process.
PYTORCH_FID = """
import json, sys
import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance
real, generated = np.load(sys.argv[1]), np.load(sys.argv[2])
print(json.dumps(calculate_frechet_distance(real.mean(axis=0), np.cov(real, rowvar=False),
                                            generated.mean(axis=0), np.cov(generated, rowvar=False))))
"""


def _features(seed, shift=0.0, count=256, width=2048):
    """Features like pool3's: non-negative, `width` of them, for `count` images (fewer than features)."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_normal((count, width))) * (1.0 + shift) + shift


@pytest.mark.slow
def test_fid_equals_pytorch_fids_on_the_same_features(tmp_path):
    pytest.importorskip("pytorch_fid")
    # 1024 features, still four times the images: scipy's sqrtm at 2048 takes ten times as long.
    real, generated = _features(0, width=1024), _features(1, shift=0.05, width=1024)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "generated.npy", generated)
    done = subprocess.run([sys.executable, "-c", PYTORCH_FID, str(tmp_path / "real.npy"),
                           str(tmp_path / "generated.npy")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = json.loads(done.stdout.splitlines()[-1])
    fid = FrechetInceptionDistance(features=1024)
    for start in range(0, 256, 100):  # batches of unequal size add up to the whole sets
        fid.update_state(real[start:start + 100], generated[start:start + 100])
    assert float(fid.result()) == pytest.approx(expected, rel=1e-4)


def test_fid_of_a_set_with_itself_is_zero_and_reset_forgets():
    real = _features(2, count=128, width=512)  # singular covariances too, at a sixty-fourth of the cost
    fid = FrechetInceptionDistance(features=512)
    fid.update_state(real, real)
    assert abs(float(fid.result())) <= 1e-6
    fid.reset_state()
    fid.update_state(real, _features(3, count=128, width=512))
    assert float(fid.result()) > 1.0


def test_bad_features_are_one_line():
    fid = FrechetInceptionDistance(features=8)
    with pytest.raises(UsageError, match=r"^FID takes real features shaped \(batch, 8\)\. Received: shape \(4, 7\)$"):
        fid.update_state(np.zeros((4, 7)), np.zeros((4, 8)))
    fid.update_state(np.ones((1, 8)), np.ones((3, 8)))
    with pytest.raises(UsageError, match=r"^FID needs at least two real images\. Received: 1$"):
        fid.result()
