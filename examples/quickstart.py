import numpy as np
import keras_inception

images = np.random.rand(256, 32, 32, 3).astype("float32")  # stand-ins for your images
labels = np.random.randint(0, 10, size=256)  # one integer label per image
model = keras_inception.get_model("googlenet_bn", stem="small", input_shape=(32, 32, 3), num_classes=10,
                                  width_multiplier=0.25)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(images, labels, batch_size=64, epochs=2)  # main_loss, aux1_loss, aux2_loss
classifier = keras_inception.inference_model(model)  # the main output only, the same weights
probabilities = classifier.predict(images[:8])
