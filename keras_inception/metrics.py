"""The Fréchet Inception Distance as a Keras metric, its statistics accumulated in float64.

    fid = FrechetInceptionDistance()
    for real, generated in batches:           # pool3 features (batch, 2048) of each set
        fid.update_state(real, generated)
    print(float(fid.result()))

FID (Heusel et al. 2017) is the Fréchet distance between two Gaussians fitted to the features of
real and generated images: |mu_r - mu_g|^2 + tr(C_r + C_g - 2 (C_r C_g)^(1/2)). The metric keeps
each set's count, sum and sum of outer products, so batches of any size add up to the statistics
of the whole set; the covariances are the unbiased ones (n - 1), as pytorch-fid's `np.cov`.

The trace of the matrix square root is taken as the sum of the square roots of the eigenvalues
of C_r^(1/2) C_g C_r^(1/2), a symmetric matrix with the same eigenvalues as C_r C_g. With fewer
images than features the covariances are singular: the eigenvalues that are zero in exact
arithmetic come out as tiny numbers of either sign, and those within rounding error of zero are
taken as zero (`significant`). FID stays finite and real, and a set's FID with itself zero,
where a general matrix square root (scipy's `sqrtm`, which pytorch-fid calls) can turn complex and
needs an offset added to the diagonals.
"""

import keras
from keras import ops

from keras_inception.validation import UsageError, check_integer


class FrechetInceptionDistance(keras.metrics.Metric):
    """FID between real features (`y_true` of `update_state`) and generated ones (`y_pred`), each
    (batch, `features`); float64 under TensorFlow (under JAX, float64 needs `jax_enable_x64`)."""

    def __init__(self, features=2048, name="frechet_inception_distance", **kwargs):
        super().__init__(name=name, dtype="float64", **kwargs)
        check_integer("features", features, 1)
        self.features = features
        self.sides = {}
        for side in ("real", "generated"):
            self.sides[side] = (
                self.add_variable((), initializer="zeros", dtype="float64", name=f"{side}_count"),
                self.add_variable((features,), initializer="zeros", dtype="float64", name=f"{side}_sum"),
                self.add_variable((features, features), initializer="zeros", dtype="float64", name=f"{side}_products"),
            )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise UsageError("FID weighs every image alike. Received: sample_weight given")
        for side, values in (("real", y_true), ("generated", y_pred)):
            values = ops.cast(values, "float64")
            if len(values.shape) != 2 or values.shape[-1] != self.features:
                raise UsageError(f"FID takes {side} features shaped (batch, {self.features}). "
                                 f"Received: shape {tuple(values.shape)}")
            count, total, products = self.sides[side]
            count.assign_add(ops.cast(ops.shape(values)[0], "float64"))
            total.assign_add(ops.sum(values, axis=0))
            products.assign_add(ops.matmul(ops.transpose(values), values))

    def statistics(self, side):
        """(mean, unbiased covariance) of one side's features so far."""
        count, total, products = self.sides[side]
        mean = total / count
        covariance = (products - count * ops.outer(mean, mean)) / (count - 1.0)
        return mean, covariance

    def result(self):
        for side, (count, _, _) in self.sides.items():
            seen = int(ops.convert_to_numpy(count))
            if seen < 2:
                raise UsageError(f"FID needs at least two {side} images. Received: {seen}")
        mean_real, covariance_real = self.statistics("real")
        mean_generated, covariance_generated = self.statistics("generated")
        root_real = symmetric_square_root(covariance_real)
        middle = ops.matmul(ops.matmul(root_real, covariance_generated), root_real)
        eigenvalues, _ = ops.eigh((middle + ops.transpose(middle)) / 2.0)
        trace_of_root = ops.sum(ops.sqrt(significant(eigenvalues)))
        difference = mean_real - mean_generated
        return (ops.sum(difference * difference) + ops.trace(covariance_real) + ops.trace(covariance_generated)
                - 2.0 * trace_of_root)

    def reset_state(self):
        for variables in self.sides.values():
            for variable in variables:
                variable.assign(ops.zeros(variable.shape, dtype="float64"))

    def get_config(self):
        return {**super().get_config(), "features": self.features}


def significant(eigenvalues):
    """A positive semi-definite matrix's eigenvalues with those within rounding error of zero
    (below the largest times the size times float64's epsilon, NumPy's rank rule) set to zero: a
    square root would turn each such error of 1e-16 into one of 1e-8, and a singular covariance
    has hundreds of them."""
    tolerance = ops.max(ops.abs(eigenvalues)) * eigenvalues.shape[0] * 2.220446049250313e-16
    return ops.where(eigenvalues > tolerance, eigenvalues, 0.0)


def symmetric_square_root(matrix):
    """The square root of a symmetric positive semi-definite matrix (`significant` eigenvalues)."""
    eigenvalues, eigenvectors = ops.eigh(matrix)
    return ops.matmul(eigenvectors * ops.sqrt(significant(eigenvalues)), ops.transpose(eigenvectors))
