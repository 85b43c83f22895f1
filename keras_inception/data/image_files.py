"""Whether a file is safe to decode as an image: a regular file, of bounded size, whose header
declares no more pixels than a limit.

    problem = file_problem("upload.png") or pixel_problem("upload.png")  # None, or why not

A named pipe would block a reader forever and `/dev/zero` never ends, so only regular files are
read. Pillow reads the header alone (its `Image.open` decodes nothing), so a decompression bomb,
a small PNG that declares 20000 x 20000 pixels, is refused before TensorFlow decodes it.
"""

import os
import stat

from keras_inception.extras import require

# Pillow's default decompression-bomb limit (its `Image.MAX_IMAGE_PIXELS`), ours by default.
MAX_IMAGE_PIXELS = 89_478_485
# Far above any photograph's file; what is larger is not read whole into memory.
MAX_IMAGE_BYTES = 256 * 2**20

FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def file_problem(path, max_bytes=MAX_IMAGE_BYTES):
    """Why `path` is no regular file of at most `max_bytes` to read (it follows links), or None."""
    try:
        info = os.stat(path)
    except OSError as error:
        return f"cannot be opened ({error.strerror})"
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for is_kind, name in FILE_KINDS if is_kind(info.st_mode)), "a special file")
        return f"is {kind}, not a regular file"
    if info.st_size > max_bytes:
        return f"holds {info.st_size:,} bytes, above the {max_bytes:,} an image file may"
    return None


def declared_size(path):
    """(width, height) from the file's header, or None where Pillow reads no image header."""
    Image = require("PIL.Image", "images")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the caller's limit applies, not Pillow's global one
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # Pillow's format plugins raise several types for a header they cannot read
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def pixel_problem(path, max_pixels=MAX_IMAGE_PIXELS):
    """"declares 20000 x 20000 pixels, above the limit of ...": why the image at `path` is too
    large to decode, from its header alone, or None."""
    size = declared_size(path)
    if size is None or size[0] * size[1] <= max_pixels:
        return None
    return f"declares {size[0]} x {size[1]} pixels, above the limit of {max_pixels:,}"
