"""The batch augmentations on CPU: what each output sample may be, by construction."""

import pytest
import torch

from skhier.neural.augment import RandomCropFlip, RandomFeatureNoise


def _shifted(img, dy, dx):
    """``img`` (C, H, W) moved by (dy, dx) pixels with zeros shifted in: an independent reference."""
    out = torch.zeros_like(img)
    h, w = img.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = img[:, max(-dy, 0):h - max(dy, 0),
                                                                      max(-dx, 0):w - max(dx, 0)]
    return out


def test_crop_flip_moves_every_sample_by_at_most_padding_and_uses_every_offset():
    torch.manual_seed(0)
    x = torch.rand(64, 2, 6, 5)
    out = RandomCropFlip(padding=1, flip=False)(x)
    seen = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if torch.equal(out[i], _shifted(x[i], dy, dx))]
        assert len(hits) == 1, i  # random pixels: exactly one shift explains each output
        seen.add(hits[0])
    assert len(seen) == 9  # 64 draws of 9 equally likely offsets: all of them occur (seeded)


def test_crop_flip_with_no_padding_flips_about_half():
    torch.manual_seed(0)
    x = torch.rand(200, 1, 4, 4)
    out = RandomCropFlip(padding=0, flip=True)(x)
    same = torch.tensor([torch.equal(o, a) for o, a in zip(out, x)])
    flipped = torch.tensor([torch.equal(o, a.flip(-1)) for o, a in zip(out, x)])
    assert bool((same ^ flipped).all())  # each sample is itself or its mirror image, never both
    assert 70 < int(flipped.sum()) < 130
    assert torch.equal(RandomCropFlip(padding=0, flip=False)(x), x)


def test_crop_flip_needs_images():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) batches, got shape \(3, 4\)"):
        RandomCropFlip()(torch.zeros(3, 4))


def test_feature_noise_off_is_the_identity():
    x = torch.randn(5, 3)
    assert torch.equal(RandomFeatureNoise(drop=0, std=0)(x), x)


def test_feature_noise_drops_at_its_rate_and_rescales_the_survivors():
    torch.manual_seed(0)
    x = torch.rand(400, 250) + 1.0  # no zero entries before the drop
    out = RandomFeatureNoise(drop=0.3, std=0)(x)
    dropped = out == 0
    assert abs(float(dropped.float().mean()) - 0.3) < 0.01  # 100,000 draws: sd 0.0015
    torch.testing.assert_close(out[~dropped], x[~dropped] / 0.7)


def test_feature_noise_is_scaled_by_each_features_batch_spread():
    torch.manual_seed(0)
    spread = torch.tensor([0.5, 2.0, 10.0])
    x = torch.randn(20000, 3) * spread
    noise = RandomFeatureNoise(drop=0, std=0.2)(x) - x
    torch.testing.assert_close(noise.std(dim=0), 0.2 * x.std(dim=0), rtol=0.03, atol=0)
    one = torch.full((1, 3), 7.0)  # a single sample: noise in units of 1
    assert 0 < float((RandomFeatureNoise(drop=0, std=0.2)(one) - one).abs().max()) < 2.0


@pytest.mark.parametrize("make, error, match", [
    (lambda: RandomFeatureNoise(drop=1), ValueError, r"drop must be a number in \[0, 1\), got 1"),
    (lambda: RandomFeatureNoise(drop=-0.1), ValueError, "drop must be .*got -0.1"),
    (lambda: RandomFeatureNoise(drop=float("nan")), ValueError, "drop must be .*got nan"),
    (lambda: RandomFeatureNoise(std=-1), ValueError, "std must be a non-negative number, got -1"),
    (lambda: RandomCropFlip(padding=-1), ValueError, "padding must be a non-negative int, got -1"),
    (lambda: RandomCropFlip(padding=1.5), ValueError, "padding must be a non-negative int, got 1.5"),
    (lambda: RandomCropFlip(flip="yes"), ValueError, "flip must be True or False, got 'yes'"),
])
def test_bad_parameters_are_refused_at_construction(make, error, match):
    # regression: drop=1 divided by zero (NaN batches) and padding=-1 / 1.5 were taken silently
    with pytest.raises(error, match=match):
        make()
