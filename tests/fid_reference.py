"""An independent FID: clean-fid 0.1.35 (Parmar et al.) between two folders, given the same Inception weights.

This file runs in its own environment (`make` builds `.venv-fidref`: PyTorch with torchvision, which clean-fid imports
and ganforge avoids, scipy, clean-fid), never inside pytest's. The tests start it as a subprocess:

    .venv-fidref/bin/python tests/fid_reference.py FOLDER1 FOLDER2 WEIGHTS CONVENTION

and it prints {"fid": ...} as JSON. clean-fid reads and resizes the images (its "legacy_pytorch" resizer is
torch's bilinear on [0, 255] floats; its "clean" one PIL bicubic in float), batches them, and computes the Fréchet
distance with scipy's sqrtm. The network is the weights file's own TorchScript, run by torch.jit.load, on the input
range each convention names: nothing of ganforge's runs here.
"""
import json
import sys

import torch
from cleanfid import fid

folder1, folder2, weights, convention = sys.argv[1:5]
torch.set_num_threads(2)
network = torch.jit.load(weights, map_location="cpu").eval()
inputs = {  # [0, 255] images at 299 px -> the network's input range; and clean-fid's resizer for the convention
    "stylegan": (lambda x: (x - 128) / 128, "legacy_pytorch"),
    "pytorch-fid": (lambda x: 2 * (x / 255) - 1, "legacy_pytorch"),
    "clean": (lambda x: (x - 128) / 128, "clean"),
}
to_range, mode = inputs[convention]
score = fid.compute_fid(folder1, folder2, mode=mode, custom_feat_extractor=lambda x: network(to_range(x)),
                        num_workers=0, batch_size=32, device=torch.device("cpu"), verbose=False)
print(json.dumps({"fid": float(score)}))
