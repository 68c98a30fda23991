"""Vertical sections: borehole logs (x, depth) conditioning a section grid end to end."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from geocgan.checkpoint import save_checkpoint
from geocgan.cli import app
from geocgan.constraints import FieldSpec
from geocgan.io.grid import Grid
from geocgan.models import build_model


def test_borehole_logs_condition_a_vertical_section(tmp_path):
    model = build_model(
        "pixel-cgan",
        {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 2, "d_layers": 3, "mode": "borehole"},
        FieldSpec("categorical", [0, 1]),
    )
    ckpt = save_checkpoint(tmp_path / "m.safetensors", model, {"epoch": 0}, training_state=False)
    # a 100 m deep, 200 m long section with 5 m pixels: 20 rows (elevation 0 to -100) x 40 cols
    Grid.from_bounds(0, -100, 200, 0, 5, "EPSG:32631").write_template(tmp_path / "section.tif")
    depths = np.arange(2.5, 100, 5.0)  # one sample per pixel down the hole
    logs = pd.concat(
        [
            pd.DataFrame(
                {"well_id": "BH1", "x": 12.0, "depth": depths, "facies": (depths > 50).astype(int)}
            ),
            pd.DataFrame({"well_id": "BH2", "x": 151.0, "depth": depths[:10], "facies": 1}),
        ]
    )
    logs.to_csv(tmp_path / "logs.csv", index=False)
    r = CliRunner().invoke(
        app,
        [
            "simulate",
            str(tmp_path / "logs.csv"),
            "--grid",
            str(tmp_path / "section.tif"),
            "--model",
            str(ckpt),
            "--value-column",
            "facies",
            "--depth-column",
            "depth",
            "-n",
            "2",
            "--out",
            str(tmp_path / "o"),
            "--json",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_wells"] == 30  # 20 + 10 constrained pixels
    rep = json.loads((tmp_path / "o" / "honoring.json").read_text())
    cells = {(w["row"], w["col"]) for w in rep["per_well"]}
    assert cells == {(i, 2) for i in range(20)} | {(i, 30) for i in range(10)}  # columns of pixels
