"""The main job's .tflite classifying image files through MediaPipe Tasks, as an Android, iOS, web
or Python app does: the file alone gives the input's normalization and the class names.

    python3 examples/mediapipe_app.py IMAGE...
"""

import sys

import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision

options = vision.ImageClassifierOptions(
    base_options=BaseOptions(model_asset_path="saved_models/googlenet_bn_digits/model_int8.tflite"), max_results=3)
with vision.ImageClassifier.create_from_options(options) as classifier:
    for path in sys.argv[1:]:
        categories = classifier.classify(mp.Image.create_from_file(path)).classifications[0].categories
        print(path, " ".join(f"{category.category_name}:{category.score:.3f}" for category in categories))
