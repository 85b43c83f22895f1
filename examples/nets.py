"""Nets by name: a training form with an auxiliary head, a small ResNet, and a feature extractor."""

import numpy as np

import keras_inception

model = keras_inception.get_model("inception_v3", num_classes=10)  # outputs main and aux
net = keras_inception.get_model("resnet50", stem="small", input_shape=(32, 32, 3), num_classes=10)
features = keras_inception.get_feature_extractor("vgg16", input_shape=(64, 64, 3))
images = np.random.rand(2, 64, 64, 3).astype("float32")
maps = features(images)  # {"block1_pool": ..., ..., "block5_pool": ...}
