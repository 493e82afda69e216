"""ConvAE: images of any size, N-D inputs, the classic conv denoising model, vs PCA."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA

from skae import ConvAE
from skae.modules import ConvAutoEncoderModule


@settings(max_examples=25, deadline=None)
@given(
    n_channels=st.integers(1, 3),
    height=st.integers(1, 21),
    width=st.integers(1, 21),
    channels=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    downsample=st.sampled_from(["pool", "stride"]),
    upsample=st.sampled_from(["upsample", "transpose"]),
    bottleneck=st.sampled_from([None, 3]),
)
def test_module_round_trips_any_image_size(
    n_channels, height, width, channels, downsample, upsample, bottleneck
):
    shape = (n_channels, height, width)
    module = ConvAutoEncoderModule(
        shape, channels, bottleneck, downsample=downsample, upsample=upsample
    )
    x = torch.rand(2, n_channels * height * width)
    code = module.encode(x)
    assert code.shape == (2, module.n_components)
    assert module.decode(code).shape == x.shape
    # every stage halves (rounding up) the sizes greater than one
    for (h0, w0), (h1, w1) in zip(module.stage_sizes, module.stage_sizes[1:], strict=False):
        assert (h1, w1) == (-(-h0 // 2), -(-w0 // 2))


@pytest.mark.parametrize("shape", [(3, 256, 256), (1, 100, 100), (1, 28, 28)])
def test_module_large_images(shape):
    module = ConvAutoEncoderModule(shape, (2, 2, 2), 8, upsample="transpose")
    x = torch.rand(1, int(np.prod(shape)))
    with torch.no_grad():
        assert module(x).shape == x.shape
    assert module.stage_sizes[-1] == tuple(-(-s // 4) for s in shape[1:])


def _layers(summary):
    return [(kind, shape) for name, kind, shape, _ in summary.rows[1:]]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_expresses_conv_denoising_model():
    # Conv2D 256 + pool, Conv2D 128 + pool, Conv2D 64 code,
    # Conv2D 128 + upsample, Conv2D 256 + upsample, sigmoid output with 3 channels.
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(4, 3 * 8 * 6))
    ae = ConvAE(image_shape=(3, 8, 6), channels=(256, 128, 64), max_epochs=1, random_state=0)
    ae.fit(X)
    assert ae.output_activation_ == "sigmoid"
    assert ae.n_components_ == 64 * 2 * 2
    assert _layers(ae.summary(print_fn=None)) == [
        ("Conv2d", (256, 8, 6)),
        ("ReLU", (256, 8, 6)),
        ("MaxPool2d", (256, 4, 3)),
        ("Conv2d", (128, 4, 3)),
        ("ReLU", (128, 4, 3)),
        ("MaxPool2d", (128, 2, 2)),
        ("Conv2d", (64, 2, 2)),
        ("ReLU", (64, 2, 2)),
        ("Flatten", (256,)),
        ("Unflatten", (64, 2, 2)),
        ("Conv2d", (128, 2, 2)),
        ("ReLU", (128, 2, 2)),
        ("Upsample", (128, 4, 3)),
        ("Conv2d", (256, 4, 3)),
        ("ReLU", (256, 4, 3)),
        ("Upsample", (256, 8, 6)),
        ("Conv2d", (3, 8, 6)),
        ("Sigmoid", (3, 8, 6)),
        ("Flatten", (144,)),
    ]
    kernels = [m.kernel_size for m in ae.net_.module_.modules() if isinstance(m, torch.nn.Conv2d)]
    assert set(kernels) == {(3, 3)}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("downsample", ["pool", "stride"])
@pytest.mark.parametrize("upsample", ["upsample", "transpose"])
def test_image_arrays_match_flat_input(downsample, upsample):
    rng = np.random.RandomState(0)
    images = rng.uniform(size=(10, 2, 7, 5))  # channels first
    flat = images.reshape(10, -1)
    ae = ConvAE(
        4,
        image_shape=(2, 7, 5),
        channels=(3, 4),
        downsample=downsample,
        upsample=upsample,
        max_epochs=2,
        random_state=0,
    ).fit(images)
    Z = ae.transform(flat)
    assert Z.shape == (10, 4)
    np.testing.assert_allclose(ae.transform(images), Z)
    np.testing.assert_allclose(ae.transform(images.transpose(0, 2, 3, 1)), Z)  # channels last
    assert ae.reconstruct(images).shape == (10, 70)
    assert ae.image_shape_ == (2, 7, 5)

    gray = rng.uniform(size=(10, 7, 5))
    ae = ConvAE(image_shape=(7, 5), channels=(2,), max_epochs=1, random_state=0).fit(gray)
    np.testing.assert_allclose(ae.transform(gray), ae.transform(gray.reshape(10, -1)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_image_shape_is_a_one_dimensional_signal():
    X = np.random.RandomState(0).normal(size=(20, 10))
    ae = ConvAE(channels=(4, 2), max_epochs=2, random_state=0).fit(X)
    assert ae.image_shape_ == (1, 1, 10)
    assert ae.n_components_ == 2 * 5  # 2 channels over the length halved once
    assert ae.transform(X).shape == (20, 10)
    assert ae.output_activation_ == "linear"


@pytest.mark.parametrize(
    "params, X_shape, match",
    [
        ({"image_shape": (8, 8)}, (5, 60), r"image_shape=\(8, 8\) holds 64 values"),
        ({"image_shape": (2, 2, 2, 2)}, (5, 16), "image_shape must be"),
        ({"image_shape": (8, 8), "kernel_size": 4}, (5, 64), "kernel_size must be odd"),
        ({"channels": ()}, (5, 64), "channels must name at least one stage"),
        ({"channels": (4, -1)}, (5, 64), "channels must be a sequence of positive"),
        ({}, (5, 8, 8), r"pass image_shape=\(8, 8\)"),
        ({"image_shape": (3, 4, 4)}, (5, 4, 4, 2), r"do not match image_shape"),
    ],
)
def test_errors_name_the_parameter(params, X_shape, match):
    X = np.random.RandomState(0).uniform(size=X_shape)
    with pytest.raises(ValueError, match=match):
        ConvAE(max_epochs=1, **params).fit(X)


@pytest.mark.slow
def test_digits_not_worse_than_pca(digits_split):
    X_train, X_test, _, _ = digits_split
    k = 16
    pca = PCA(k, random_state=0).fit(X_train)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    ae = ConvAE(
        k, image_shape=(8, 8), channels=(16, 32), lr=3e-3, max_epochs=30, random_state=0
    ).fit(X_train)
    conv_mse = -ae.score(X_test)
    # measured: ConvAE 0.0076, PCA 0.0115 (ratio 0.66)
    assert conv_mse < 0.95 * pca_mse


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_same_seed_same_codes():
    X = np.random.RandomState(0).uniform(size=(30, 36))
    params = {"image_shape": (6, 6), "channels": (3, 3), "max_epochs": 3}
    a = ConvAE(4, random_state=1, **params).fit(X).transform(X)
    b = ConvAE(4, random_state=1, **params).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_equal_channels_height_width_is_ambiguous():
    rng = np.random.RandomState(0)
    images = rng.uniform(size=(20, 3, 3, 3)).astype(np.float32)
    ae = ConvAE(image_shape=(3, 3, 3), channels=(4,), max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"channels-first \(C, H, W\) or channels-last.*moveaxis"):
        ae.fit(images)
    assert not hasattr(ae, "net_")
    flat = images.reshape(20, -1)
    ae.fit(flat)  # flattened: channels-first, no doubt
    with pytest.raises(ValueError, match="channels-last"):
        ae.transform(images)
    # a 3-channel 4 x 4 image is not ambiguous
    wide = rng.uniform(size=(20, 4, 4, 3)).astype(np.float32)
    ConvAE(image_shape=(3, 4, 4), channels=(4,), max_epochs=1, random_state=0).fit(wide)
