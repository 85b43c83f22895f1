"""The specs of the registered nets (`keras_inception.specs`), as data: each figure is held to
the built net by tests/test_specs.py, and the checkpoints' figures are their publishers'."""

import dataclasses

from keras_inception.pretrained.torchvision import CAFFE, INCEPTION, TORCH
from keras_inception.specs import CheckpointSpec, FeatureMap, NetSpec, Paper, register_spec

AUX = ("aux1", "aux2")

# Papers, by first author.
KRIZHEVSKY_2012 = ("Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional Neural "
                   "Networks. NIPS 2012")
KRIZHEVSKY_2014 = "Krizhevsky. One weird trick for parallelizing convolutional neural networks. arXiv:1404.5997, 2014"
ZEILER_2014 = "Zeiler, Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014 (arXiv:1311.2901)"
SIMONYAN_2015 = ("Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image Recognition. "
                 "ICLR 2015 (arXiv:1409.1556)")
SZEGEDY_2015 = "Szegedy et al. Going Deeper with Convolutions. CVPR 2015 (arXiv:1409.4842)"
IOFFE_2015 = ("Ioffe, Szegedy. Batch Normalization: Accelerating Deep Network Training by Reducing Internal "
              "Covariate Shift. ICML 2015 (arXiv:1502.03167)")
SZEGEDY_2016 = "Szegedy et al. Rethinking the Inception Architecture for Computer Vision. CVPR 2016 (arXiv:1512.00567)"
SZEGEDY_2017 = ("Szegedy, Ioffe, Vanhoucke, Alemi. Inception-v4, Inception-ResNet and the Impact of Residual "
                "Connections on Learning. AAAI 2017 (arXiv:1602.07261)")
HE_2016 = "He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016 (arXiv:1512.03385)"
LIN_2014 = "Lin, Chen, Yan. Network In Network. ICLR 2014 (arXiv:1312.4400)"
LECUN_1998 = "LeCun, Bottou, Bengio, Haffner. Gradient-Based Learning Applied to Document Recognition. Proc. IEEE 1998"

# Szegedy et al. 2017 report on the part of the validation set left after removing the
# images ILSVRC blacklisted.
SZEGEDY_2017_VALIDATION = "ILSVRC-2012 validation, blacklisted images removed"
# A variant's paper: the architecture it departs from; the paper's errors are not the variant's.
GOOGLENET_ARCHITECTURE = Paper(SZEGEDY_2015, "Table 1, Figure 3", results="the paper reports on `googlenet`")
GOOGLENET_PAPER = Paper(SZEGEDY_2015, "Table 1, Figure 3", top5_error=7.89, protocol="googlenet_144",
                        results="Table 3: one model, 144 crops (seven models, 144 crops: 6.67)")


def torchvision(source_net, file, top1, preprocessing=TORCH, resize=256, crop=224, **build):
    return CheckpointSpec("torchvision", source_net, file, top1, preprocessing, resize, crop, build=build)


def timm(hub_id, top1, preprocessing=TORCH, crop=224, crop_fraction=0.875, interpolation="bicubic", **build):
    return CheckpointSpec("timm", hub_id, hub_id, top1, preprocessing, round(crop / crop_fraction), crop,
                          interpolation, build=build)


def keras_file(source_net, path, top1, preprocessing, size=224):
    # keras.applications publishes no resize: its figures are of the image resized to the input.
    return CheckpointSpec("keras", source_net, path, top1, preprocessing, size, size, bgr=preprocessing is CAFFE)


def resnet_checkpoints(depth, v1_file, v1_top1, tv_top1, a1_top1, v2=None, keras_top1=None):
    """torchvision's files (V2 first where there is one), timm's copies and keras.applications'."""
    found = []
    if v2:
        v2_file, v2_top1, timm_v2_top1 = v2
        found.append(torchvision(f"resnet{depth}", v2_file, v2_top1, resize=232))
    found.append(torchvision(f"resnet{depth}", v1_file, v1_top1))
    if v2:
        found.append(timm(f"resnet{depth}.tv2_in1k", timm_v2_top1, crop_fraction=0.965, interpolation="bilinear"))
    found += [timm(f"resnet{depth}.a1_in1k", a1_top1, crop_fraction=0.95),
              timm(f"resnet{depth}.tv_in1k", tv_top1, interpolation="bilinear")]
    if keras_top1:
        found.append(keras_file(f"ResNet{depth}", f"resnet/resnet{depth}_weights_tf_dim_ordering_tf_kernels.h5",
                                keras_top1, CAFFE))
    return tuple(found)


def vgg_checkpoints(depth, digest, top1, bn_digest, bn_top1, keras_top1=None):
    found = [torchvision(f"vgg{depth}", f"vgg{depth}-{digest}.pth", top1),
             timm(f"vgg{depth}.tv_in1k", None, interpolation="bilinear"),
             torchvision(f"vgg{depth}_bn", f"vgg{depth}_bn-{bn_digest}.pth", bn_top1, batch_norm=True),
             timm(f"vgg{depth}_bn.tv_in1k", None, interpolation="bilinear", batch_norm=True)]
    if keras_top1:
        found.append(keras_file(f"VGG{depth}", f"vgg{depth}/vgg{depth}_weights_tf_dim_ordering_tf_kernels.h5",
                                keras_top1, CAFFE))
    return tuple(found)


def vgg_paper(column, top1_error, top5_error, results):
    return Paper(SIMONYAN_2015, f"Table 1, column {column}", top1_error, top5_error, "vgg_dense", results=results)


SPECS = [
    NetSpec("alexnet", (227, 227, 3), 67, 1000, 60_965_224, 60_965_224, 724_406_816,
            paper=Paper(KRIZHEVSKY_2012, "Section 3.5, Figure 2", 40.7, 18.2, "ten_crop",
                        results="Table 2: one CNN"),
            variant="227x227 input, which makes the paper's arithmetic work (the paper says 224)"),
    NetSpec("alexnet_torchvision", (224, 224, 3), 63, 1000, 61_100_840, 61_100_840, 714_188_480,
            checkpoints=(torchvision("alexnet", "alexnet-owt-7be5be79.pth", 56.522),
                         torchvision("alexnet", "alexnet-owt-4df8aa71.pth", 56.522)),
            paper=Paper(KRIZHEVSKY_2014, "Section 4 (one tower: 64-192-384-256-256)"),
            variant="torchvision's AlexNet: no LRN, no groups"),
    NetSpec("googlenet", (224, 224, 3), 65, 1000, 13_378_280, 13_378_280, 1_582_671_872, AUX, paper=GOOGLENET_PAPER),
    NetSpec("googlenet_bn", (224, 224, 3), 65, 1000, 13_400_888, 13_385_816, 1_582_671_872, AUX,
            paper=GOOGLENET_ARCHITECTURE,
            variant="batch norm after every conv (Ioffe and Szegedy 2015), no LRN"),
    NetSpec("googlenet_cifar", (32, 32, 3), 5, 100, 6_410_916, 6_394_852, 531_976_192, paper=GOOGLENET_ARCHITECTURE,
            variant="pytorch-cifar100's form: a three-conv 3x3 stem at full resolution, each 5x5 as two 3x3, "
                    "batch norm, no auxiliary heads"),
    NetSpec("googlenet_torchvision", (224, 224, 3), 65, 1000, 13_019_960, 13_004_888, 1_498_376_192, AUX,
            checkpoints=(torchvision("googlenet", "googlenet-1378be20.pth", 69.778, INCEPTION),),
            paper=GOOGLENET_ARCHITECTURE,
            variant="torchvision's (TF-slim's) GoogLeNet: batch norm, a 3x3 conv in the 5x5 branch, dropout 0.2"),
    NetSpec("inception_resnet_v1", (299, 299, 3), 75, 1000, 22_769_848, 22_742_808, 6_206_361_696,
            paper=Paper(SZEGEDY_2017, "Figures 14, 10, 11, 12, 13, 7", 21.3, 5.5, "center",
                        dataset=SZEGEDY_2017_VALIDATION, results="Table 2: one model, one crop")),
    NetSpec("inception_resnet_v2", (299, 299, 3), 75, 1000, 55_873_736, 55_813_192, 13_155_794_016,
            checkpoints=(timm("inception_resnet_v2.tf_in1k", 80.434, INCEPTION, 299, 0.8975),
                         keras_file("InceptionResNetV2",
                                    "inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
                                    80.3, INCEPTION, 299)),
            paper=Paper(SZEGEDY_2017, "Figures 15, 16, 7, 17, 18, 19", 19.9, 4.9, "center",
                        dataset=SZEGEDY_2017_VALIDATION, results="Table 2: one model, one crop"),
            variant="the released form (TF-slim, keras.applications): Inception v3's stem and 10/20/10 blocks, "
                    "as the paper's figures do not add up"),
    NetSpec("inception_v2", (224, 224, 3), 17, 1000, 11_305_256, 11_285_224, 2_032_600_064,
            paper=Paper(IOFFE_2015, "Figure 5", 21.99, 5.82, "googlenet_144",
                        results="Figure 4: BN-Inception, one model, 144 crops (one crop: 25.2 / 7.82)")),
    NetSpec("inception_v3", (299, 299, 3), 107, 1000, 27_179_376, 27_143_152, 5_713_216_096, ("aux",),
            checkpoints=(torchvision("inception_v3", "inception_v3_google-0cc3c7bd.pth", 77.294, INCEPTION,
                                     resize=342, crop=299),
                         timm("inception_v3.tf_in1k", 77.866, INCEPTION, 299, aux_heads=False),
                         timm("inception_v3.tv_in1k", 77.472, INCEPTION, 299),
                         keras_file("InceptionV3", "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                                    77.9, INCEPTION, 299)),
            paper=Paper(SZEGEDY_2016, "Table 1, Figures 5, 6, 7", 21.2, 5.6, "center",
                        results="Table 3: Inception-v3 (BN-auxiliary), one model, one crop")),
    NetSpec("inception_v4", (299, 299, 3), 75, 1000, 42_711_400, 42_648_232, 12_253_974_624,
            checkpoints=(timm("inception_v4.tf_in1k", 80.144, INCEPTION, 299),),
            paper=Paper(SZEGEDY_2017, "Figures 9, 3, 4, 5, 6, 7, 8", 20.0, 5.0, "center",
                        dataset=SZEGEDY_2017_VALIDATION, results="Table 2: one model, one crop")),
    NetSpec("lenet5", (32, 32, 1), 32, 10, 61_706, 61_706, 416_520,
            paper=Paper(LECUN_1998, "Figure 2", 0.95, protocol="center", dataset="MNIST test",
                        results="Section III.C: without distortions (0.8 with them)"),
            variant="the usual form: C3 connected to every S2 map, S2 and S4 plain average pools, a softmax "
                    "classifier for the RBF output layer"),
    NetSpec("nin_cifar10", (32, 32, 3), 4, 10, 966_986, 966_986, 222_486_528,
            paper=Paper(LIN_2014, "Section 4.2 (the authors' Caffe model)", 10.41, protocol="center",
                        dataset="CIFAR-10 test", results="Table 1: without augmentation (8.81 with it)")),
    NetSpec("nin_imagenet", (224, 224, 3), 32, 1000, 7_595_176, 7_595_176, 1_204_989_056,
            paper=Paper(LIN_2014, "the authors' ImageNet model (four mlpconv layers)",
                        results="the paper reports no ImageNet error")),
    NetSpec("resnet18", (224, 224, 3), 32, 1000, 11_699_112, 11_689_512, 1_814_073_344,
            checkpoints=resnet_checkpoints(18, "resnet18-f37072fd.pth", 69.758, 69.752, 71.504),
            paper=Paper(HE_2016, "Table 1", 27.88, None, "ten_crop", results="Table 2: ResNet-18")),
    NetSpec("resnet34", (224, 224, 3), 32, 1000, 21_814_696, 21_797_672, 3_663_761_408,
            checkpoints=resnet_checkpoints(34, "resnet34-b627a593.pth", 73.314, 73.298, 76.420),
            paper=Paper(HE_2016, "Table 1", 24.52, 7.46, "ten_crop", results="Table 3: ResNet-34 B")),
    NetSpec("resnet50", (224, 224, 3), 32, 1000, 25_610_152, 25_557_032, 3_857_973_248,
            checkpoints=resnet_checkpoints(50, "resnet50-0676ba61.pth", 76.130, 76.156, 80.382,
                                           v2=("resnet50-11ad3fa6.pth", 80.858, 80.846), keras_top1=74.9),
            paper=Paper(HE_2016, "Table 1", 22.85, 6.71, "ten_crop", results="Table 3"),
),
    NetSpec("resnet101", (224, 224, 3), 32, 1000, 44_654_504, 44_549_160, 7_570_194_432,
            checkpoints=resnet_checkpoints(101, "resnet101-63fe2227.pth", 77.374, 77.404, 81.494,
                                           v2=("resnet101-cd907fc2.pth", 81.886, 81.906), keras_top1=76.4),
            paper=Paper(HE_2016, "Table 1", 21.75, 6.05, "ten_crop", results="Table 3"),
),
    NetSpec("resnet152", (224, 224, 3), 32, 1000, 60_344_232, 60_192_808, 11_282_415_616,
            checkpoints=resnet_checkpoints(152, "resnet152-394f9c45.pth", 78.312, 78.330, 81.998,
                                           v2=("resnet152-f82ba261.pth", 82.284, 82.294), keras_top1=76.6),
            paper=Paper(HE_2016, "Table 1", 21.43, 5.71, "ten_crop", results="Table 3"),
),
    NetSpec("vgg11", (224, 224, 3), 32, 1000, 132_863_336, 132_863_336, 7_609_090_048,
            checkpoints=vgg_checkpoints(11, "8a719046", 69.020, "6002323d", 70.370),
            paper=vgg_paper("A", 29.6, 10.4, "Table 3: one scale, Q = S = 256")),
    NetSpec("vgg11_lrn", (224, 224, 3), 32, 1000, 132_863_336, 132_863_336, 7_609_090_048,
            paper=vgg_paper("A-LRN", 29.7, 10.5, "Table 3: one scale, Q = S = 256")),
    NetSpec("vgg13", (224, 224, 3), 32, 1000, 133_047_848, 133_047_848, 11_308_466_176,
            checkpoints=vgg_checkpoints(13, "19584684", 69.928, "abd245e5", 71.586),
            paper=vgg_paper("B", 28.7, 9.9, "Table 3: one scale, Q = S = 256")),
    NetSpec("vgg16", (224, 224, 3), 32, 1000, 138_357_544, 138_357_544, 15_470_264_320,
            checkpoints=vgg_checkpoints(16, "397923af", 71.592, "6c64b313", 73.360, keras_top1=71.3),
            paper=vgg_paper("D", 24.8, 7.5, "Table 4: S in [256, 512], Q in {256, 384, 512}")),
    NetSpec("vgg16_c", (224, 224, 3), 32, 1000, 133_638_952, 133_638_952, 11_770_888_192,
            paper=vgg_paper("C", 28.1, 9.4, "Table 3: one scale, Q = S = 256")),
    NetSpec("vgg19", (224, 224, 3), 32, 1000, 143_667_240, 143_667_240, 19_632_062_464,
            checkpoints=vgg_checkpoints(19, "dcbb9e9d", 72.376, "c79401a0", 74.218, keras_top1=71.3),
            paper=vgg_paper("E", 24.8, 7.5, "Table 4: S in [256, 512], Q in {256, 384, 512}")),
    NetSpec("zfnet", (224, 224, 3), 53, 1000, 62_357_608, 62_357_608, 1_168_032_896,
            paper=Paper(ZEILER_2014, "Figure 3", 38.4, 16.5, "ten_crop", results="Table 2: one convnet")),
    NetSpec("zfnet_wide", (224, 224, 3), 53, 1000, 107_627_624, 107_627_624, 2_476_704_896,
            paper=Paper(ZEILER_2014, "Figure 3, layers 3-5 widened to 512, 1024, 512", 37.5, 16.0, "ten_crop",
                        results="Table 2: one convnet, layers 3, 4, 5: 512, 1024, 512 maps")),
]


def feature_maps(*rows):
    """FeatureMaps from (name, channels, stride) rows, or from tuples of such rows."""
    flat = [row for group in rows for row in (group if isinstance(group[0], tuple) else (group,))]
    return tuple(FeatureMap(*row) for row in flat)


def numbered(prefix, count, channels, stride):
    """`prefix_1` ... `prefix_count`: a run of like blocks."""
    return tuple((f"{prefix}_{index}", channels, stride) for index in range(1, count + 1))


def resnet_maps(blocks, widths):
    """conv1 and each stage's last block: (name, channels, stride) rows."""
    return (("conv1_relu", 64, 2), *((f"conv{stage}_block{count}_out", width, 2 ** stage)
                                     for stage, count, width in zip(range(2, 6), blocks, widths)))


def vgg_maps():
    return tuple((f"block{index}_pool", width, 2 ** index) for index, width in enumerate((64, 128, 256, 512, 512), 1))


GOOGLENET_MAPS = feature_maps(("inception_3a", 256, 8), ("inception_3b", 480, 8), ("inception_4a", 512, 16),
                              ("inception_4b", 512, 16), ("inception_4c", 512, 16), ("inception_4d", 528, 16),
                              ("inception_4e", 832, 16), ("inception_5a", 832, 32), ("inception_5b", 1024, 32))
BASIC, BOTTLENECK = (64, 128, 256, 512), (256, 512, 1024, 2048)
# Each net's feature maps at its default size: the endpoints `get_feature_extractor` gives.
FEATURE_MAPS = {
    "alexnet": feature_maps(("pool1", 96, 8), ("pool2", 256, 16), ("conv3_relu", 384, 16), ("conv4_relu", 384, 16),
                            ("pool5", 256, 32)),
    "alexnet_torchvision": feature_maps(("pool1", 64, 8), ("pool2", 192, 16), ("conv3_relu", 384, 16),
                                        ("conv4_relu", 256, 16), ("pool5", 256, 32)),
    "googlenet": GOOGLENET_MAPS,
    "googlenet_bn": GOOGLENET_MAPS,
    # The small stem keeps the full resolution: each stride a quarter of GoogLeNet's.
    "googlenet_cifar": tuple(FeatureMap(name, channels, stride // 4) for name, channels, stride in GOOGLENET_MAPS),
    "googlenet_torchvision": GOOGLENET_MAPS,
    "inception_resnet_v1": feature_maps(numbered("block35", 5, 256, 8), ("mixed_6a", 896, 16),
                                        numbered("block17", 10, 896, 16), ("mixed_7a", 1792, 32),
                                        numbered("block8", 5, 1792, 32)),
    "inception_resnet_v2": feature_maps(("mixed_5b", 320, 8), numbered("block35", 10, 320, 8), ("mixed_6a", 1088, 16),
                                        numbered("block17", 20, 1088, 16), ("mixed_7a", 2080, 32),
                                        numbered("block8", 10, 2080, 32), ("conv_7b_relu", 1536, 32)),
    "inception_v2": feature_maps(("inception_3a", 256, 8), ("inception_3b", 320, 8), ("inception_3c", 576, 16),
                                 ("inception_4a", 576, 16), ("inception_4b", 576, 16), ("inception_4c", 608, 16),
                                 ("inception_4d", 608, 16), ("inception_4e", 1056, 32), ("inception_5a", 1024, 32),
                                 ("inception_5b", 1024, 32)),
    "inception_v3": feature_maps(("mixed_5b", 256, 8), ("mixed_5c", 288, 8), ("mixed_5d", 288, 8),
                                 ("mixed_6a", 768, 16), *((f"mixed_6{block}", 768, 16) for block in "bcde"),
                                 ("mixed_7a", 1280, 32), ("mixed_7b", 2048, 32), ("mixed_7c", 2048, 32)),
    "inception_v4": feature_maps(*((f"mixed_5{block}", 384, 8) for block in "bcde"), ("mixed_6a", 1024, 16),
                                 *((f"mixed_6{block}", 1024, 16) for block in "bcdefgh"), ("mixed_7a", 1536, 32),
                                 *((f"mixed_7{block}", 1536, 32) for block in "bcd")),
    "lenet5": feature_maps(("c1_tanh", 6, 1), ("s2", 6, 2), ("c3_tanh", 16, 2), ("s4", 16, 4), ("c5_tanh", 120, 4)),
    "nin_cifar10": feature_maps(("mlpconv1_dropout", 96, 2), ("mlpconv2_dropout", 192, 4),
                                ("mlpconv3_cccp1_relu", 192, 4)),
    "nin_imagenet": feature_maps(("mlpconv1_pool", 96, 8), ("mlpconv2_pool", 256, 16), ("mlpconv3_dropout", 384, 32),
                                 ("mlpconv4_cccp1_relu", 1024, 32)),
    "resnet18": feature_maps(resnet_maps((2, 2, 2, 2), BASIC)),
    "resnet34": feature_maps(resnet_maps((3, 4, 6, 3), BASIC)),
    "resnet50": feature_maps(resnet_maps((3, 4, 6, 3), BOTTLENECK)),
    "resnet101": feature_maps(resnet_maps((3, 4, 23, 3), BOTTLENECK)),
    "resnet152": feature_maps(resnet_maps((3, 8, 36, 3), BOTTLENECK)),
    **{name: feature_maps(vgg_maps()) for name in ("vgg11", "vgg11_lrn", "vgg13", "vgg16", "vgg16_c", "vgg19")},
    "zfnet": feature_maps(("pool1", 96, 4), ("pool2", 256, 16), ("conv3_relu", 384, 16), ("conv4_relu", 384, 16),
                          ("pool5", 256, 32)),
    "zfnet_wide": feature_maps(("pool1", 96, 4), ("pool2", 256, 16), ("conv3_relu", 512, 16),
                               ("conv4_relu", 1024, 16), ("pool5", 512, 32)),
}
for _spec in SPECS:
    register_spec(dataclasses.replace(_spec, feature_maps=FEATURE_MAPS[_spec.name]))
