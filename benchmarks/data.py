"""The images the benchmarks train and measure on: scikit-learn's bundled digits written as
JPEG folders (one sub-folder per class), enlarged to the size ImageNet images are read at, so
that the real pipeline decodes and augments real files offline."""

import os

# Images are stored at 8/7 of the net's input, as ImageNet's are resized to 256 for 224.
SOURCE_SCALE = 8 / 7


def write_digit_jpegs(directory, split, image_size, *, limit=None):
    """Writes the digits of `split` ("train" or "test") as RGB JPEGs under `directory`.

    Returns the number of images written.
    """
    from PIL import Image

    from keras_inception.data.sources import digits

    images, labels = digits(split)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    size = round(image_size * SOURCE_SCALE)
    for index, (image, label) in enumerate(zip(images, labels)):
        class_dir = os.path.join(directory, str(label))
        os.makedirs(class_dir, exist_ok=True)
        picture = Image.fromarray(image[..., 0]).resize((size, size), Image.BILINEAR)
        picture.convert("RGB").save(os.path.join(class_dir, f"{index:05d}.jpg"), quality=90)
    return len(images)
