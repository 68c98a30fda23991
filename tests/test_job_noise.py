"""Ensembles record their noise scheme; a resume never mixes two schemes."""

import numpy as np
import pytest
import zarr
from test_job_cli import _cfg, site, tiny_model  # noqa: F401  (fixtures)

import geocgan.io.ensemble as ens
from geocgan.errors import InputError, OutputExistsError
from geocgan.io.ensemble import open_ensemble
from geocgan.job import SimulateConfig, run_simulation


def _interrupted(wells, model, out, grid, monkeypatch, **kw):
    """A run killed after its first batch of 2 (an unfinished store)."""
    real = ens.write_region
    calls = []

    def dying(path, start, data):
        if calls:
            raise KeyboardInterrupt
        calls.append(start)
        real(path, start, data)

    monkeypatch.setattr(ens, "write_region", dying)
    with pytest.raises(KeyboardInterrupt):
        run_simulation(wells, model, out, grid=grid, config=_cfg(n=6, batch_size=2, **kw))
    monkeypatch.setattr(ens, "write_region", real)


def test_old_stores_resume_with_their_scheme_and_never_mix(
    site,  # noqa: F811
    tiny_model,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    grid, wells, _ = site
    straight = tmp_path / "torch"
    run_simulation(
        wells, tiny_model, straight, grid=grid, config=_cfg(n=6, batch_size=2, noise_scheme="torch")
    )
    torch_fields = open_ensemble(straight / "ensemble.zarr")["facies"].values

    # a store made before the scheme was recorded (drawn with the torch scheme)
    old = tmp_path / "old"
    _interrupted(wells, tiny_model, old, grid, monkeypatch, noise_scheme="torch")
    del zarr.open_group(old / "ensemble.zarr", mode="r+").attrs["noise_scheme"]
    assert ens.stored_noise_scheme(old / "ensemble.zarr") == "torch"
    with pytest.raises(OutputExistsError, match="drawn with noise scheme 'torch', not 'philox'"):
        run_simulation(
            wells, tiny_model, old, grid=grid, config=_cfg(n=6, batch_size=2, noise_scheme="philox")
        )
    summary = run_simulation(wells, tiny_model, old, grid=grid, config=_cfg(n=6, batch_size=2))
    assert summary["resumed_from"] == 2 and summary["config"]["noise_scheme"] == "torch"
    np.testing.assert_array_equal(
        open_ensemble(old / "ensemble.zarr")["facies"].values, torch_fields
    )

    # a new store is drawn with Philox, records it, and refuses the torch scheme
    new = tmp_path / "new"
    _interrupted(wells, tiny_model, new, grid, monkeypatch)
    group = zarr.open_group(new / "ensemble.zarr", mode="r")
    assert group.attrs["noise_scheme"] == "philox" and "precision" not in group.attrs
    assert not np.array_equal(group["facies"][:2], torch_fields[:2])
    with pytest.raises(OutputExistsError, match="'philox', not 'torch'.*--noise-scheme philox"):
        run_simulation(
            wells, tiny_model, new, grid=grid, config=_cfg(n=6, batch_size=2, noise_scheme="torch")
        )


def test_bfloat16_is_recorded_and_bad_settings_refused(site, tiny_model, tmp_path):  # noqa: F811
    grid, wells, _ = site
    run_simulation(
        wells, tiny_model, tmp_path / "b", grid=grid, config=_cfg(n=2, precision="bfloat16")
    )
    assert open_ensemble(tmp_path / "b" / "ensemble.zarr").attrs["precision"] == "bfloat16"
    with pytest.raises(InputError, match="noise scheme 'mt'"):
        SimulateConfig(noise_scheme="mt")
    with pytest.raises(InputError, match="precision 'float16'"):
        SimulateConfig(precision="float16")
