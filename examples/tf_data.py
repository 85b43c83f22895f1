"""The offline digits through the tf.data pipeline, into a small GoogLeNet."""

import keras_inception
from keras_inception import data

model = keras_inception.get_model("googlenet_bn", stem="small", input_shape=(32, 32, 1), num_classes=10,
                                  width_multiplier=0.25)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
train_x, train_y = data.digits("train")  # 1,437 8x8 digits, offline; "test" holds out 360
train = data.for_model(model, data.from_arrays(train_x, train_y), training=True, flip=False)
test = data.for_model(model, data.from_arrays(*data.digits("test")), training=False)
history = model.fit(train, validation_data=test, epochs=2)
