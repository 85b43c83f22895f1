"""The main job's int8 .tflite classifying the held-out digits, as an app runs it: through its
signature, on images given the evaluation view."""

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from keras_inception import data

interpreter = Interpreter(model_path="saved_models/googlenet_bn_digits/model_int8.tflite")
net = interpreter.get_signature_runner()  # "serving_default": image -> output_0
_, size, _, channels = net.get_input_details()["image"]["shape"]
images, labels = data.digits("test")  # uint8, as decoded
views = data.preprocessing.evaluation_view(images, size, channels).numpy()  # what the net saw in validation
class_ids = np.array([net(image=view[None])["output_0"].argmax() for view in views])
print(f"{np.mean(class_ids == labels):.1%} of {len(labels)} test digits")
