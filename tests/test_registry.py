import pytest

import keras_inception
from keras_inception import registry


def test_list_models_is_sorted_and_complete():
    names = keras_inception.list_models()
    assert names == sorted(names)
    assert {"googlenet", "googlenet_bn", "googlenet_cifar", "nin_cifar10", "nin_imagenet", "lenet5",
            "alexnet", "zfnet", "vgg16", "resnet50", "inception_v3", "inception_resnet_v2"} <= set(names)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"alexnet, alexnet_torchvision, googlenet, googlenet_bn.*Received: name='inception_v9'"):
        keras_inception.get_model("inception_v9")


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="already registered.*Received: name='googlenet'"):
        keras_inception.register_model("googlenet", lambda **kwargs: None)


def test_register_and_get_a_new_model():
    name = "test_only_tiny_net"
    built = {}

    @keras_inception.register_model(name)
    def tiny(*, num_classes=3, classifier_activation="softmax"):
        built.update(num_classes=num_classes, classifier_activation=classifier_activation)
        return "model"

    try:
        assert name in keras_inception.list_models()
        # None is a value (logits), not "unset": it reaches the builder.
        assert keras_inception.get_model(name, num_classes=5, classifier_activation=None) == "model"
        assert built == {"num_classes": 5, "classifier_activation": None}
    finally:
        registry._BUILDERS.pop(name)
        registry._ENDPOINTS.pop(name)


def test_unknown_argument_names_it_and_the_accepted_ones():
    with pytest.raises(TypeError, match=r"takes no argument 'width_multiplier'.*num_classes.*Received: width_multiplier=0.5"):
        keras_inception.get_model("nin_cifar10", width_multiplier=0.5)
