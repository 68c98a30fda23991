import numpy as np
import pytest
import torch

from geocgan.constraints import (
    Canvas,
    Constraints,
    FieldSpec,
    constraint_tensor,
    from_points,
    random_masks,
    sample_constraints,
)
from geocgan.errors import ConstraintError, GridError, InputError


def test_point_masks_have_the_paper_density():
    m = random_masks(8, (100, 100), density=0.005, generator=torch.Generator().manual_seed(0))
    assert m.shape == (8, 1, 100, 100) and m.dtype == torch.bool
    assert (m.sum((1, 2, 3)) == 50).all()  # exactly 0.5% of each map
    assert not torch.equal(m[0], m[1])  # each map its own


def test_borehole_masks_are_columns():
    m = random_masks(
        4, (32, 64), density=0.05, mode="borehole", generator=torch.Generator().manual_seed(1)
    )[:, 0]
    cols = m.any(1)  # (B, W) drilled columns
    assert (cols.sum(1) == round(0.05 * 64)).all()
    assert torch.equal(m.sum(1)[cols], torch.full_like(m.sum(1)[cols], 32))  # whole columns


def test_partial_boreholes_are_contiguous_intervals():
    m = random_masks(
        4,
        (40, 64),
        density=0.1,
        mode="borehole",
        partial=True,
        generator=torch.Generator().manual_seed(2),
    )[:, 0]
    for b in range(4):
        for c in torch.nonzero(m[b].any(0))[:, 0]:
            rows = torch.nonzero(m[b, :, c])[:, 0]
            assert len(rows) >= 10 and (rows.diff() == 1).all()  # >= a quarter, no gaps
    assert (m.sum(1)[m.any(1)] < 40).any()  # some are partial


def test_mask_is_explicit_so_zero_valued_wells_are_kept():
    c = from_points((8, 8), [1, 2], [3, 4], [0.0, 1.5])
    t = c.tensor(FieldSpec("continuous"))
    assert t.shape == (1, 2, 8, 8)
    assert t[0, 1, 1, 3] == 1 and t[0, 0, 1, 3] == 0  # the zero-valued well is in the mask
    assert t[0, 1].sum() == 2 and t[0, 0, 2, 4] == 1.5


def test_categorical_constraints_are_one_hot_with_mask():
    spec = FieldSpec("categorical", codes=[0, 1, 2])
    c = from_points((6, 6), [0, 5], [0, 5], [2, 0])
    t = c.tensor(spec)
    assert t.shape == (1, 4, 6, 6)
    assert t[0, :3, 0, 0].tolist() == [0, 0, 1] and t[0, :3, 5, 5].tolist() == [1, 0, 0]
    assert t[0, :3].sum() == 2  # nothing off the wells


def test_sample_constraints_reads_values_from_the_field():
    f = np.arange(64 * 64, dtype=float).reshape(64, 64)
    c = sample_constraints(f, density=0.01, seed=3)
    r, k = c.rows_cols
    assert c.count == round(0.01 * 64 * 64)
    np.testing.assert_array_equal(c.values[r, k], f[r, k])
    assert np.isnan(c.values[~c.mask]).all()


def test_constraint_tensor_zeroes_values_off_the_mask():
    x = torch.ones(2, 3, 4, 4)
    m = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    m[:, :, 0, 0] = True
    t = constraint_tensor(x, m)
    assert t.shape == (2, 4, 4, 4) and t[:, :3].sum() == 6


def test_decode_takes_the_most_probable_facies_first_on_ties():
    spec = FieldSpec("categorical", codes=[3, 7, 9])
    torch.manual_seed(0)
    p = torch.rand(4, 3, 8, 8)
    p[0, :, 0, 0] = torch.tensor([0.4, 0.4, 0.2])  # tie between the first two: the first wins
    p[1, :, 0, 0] = torch.tensor([0.1, 0.45, 0.45])
    codes = torch.tensor([3.0, 7.0, 9.0])
    assert torch.equal(spec.decode(p), codes[p.argmax(1)])
    assert spec.decode(p)[0, 0, 0] == 3 and spec.decode(p)[1, 0, 0] == 7


def test_spec_roundtrip_encode_decode():
    spec = FieldSpec("categorical", codes=[3, 7])
    f = torch.tensor([[[3.0, 7.0], [7.0, 3.0]]])
    assert torch.equal(spec.decode(spec.encode(f)), f)
    spec = FieldSpec("continuous", center=10.0, scale=2.0)
    assert torch.allclose(spec.decode(spec.encode(f)), f)


@pytest.mark.parametrize(
    "rows, cols, values, match",
    [
        ([0, 9], [0, 0], [1.0, 2.0], r"outside the 8x8 grid, first: well B \(row 9, col 0\)"),
        ([0, 1], [0, -1], [1.0, 2.0], "outside the 8x8 grid"),
        ([0, 1], [0, 1], [1.0, np.nan], r"NaN or infinite, first: well B"),
        ([0, 0], [0, 0], [1.0, 2.0], "two observations with different values"),
    ],
)
def test_bad_points_are_refused_with_where_and_what_to_do(rows, cols, values, match):
    with pytest.raises(ConstraintError, match=match):
        from_points((8, 8), rows, cols, values, labels=["well A", "well B"])


def test_unknown_facies_code_is_refused():
    with pytest.raises(
        ConstraintError, match=r"facies code 5 at well B .* not one of the model's codes \[0, 1\]"
    ):
        from_points(
            (8, 8),
            [0, 1],
            [0, 1],
            [1, 5],
            spec=FieldSpec("categorical", [0, 1]),
            labels=["well A", "well B"],
        )
    with pytest.raises(ConstraintError, match="not among the model's codes"):
        FieldSpec("categorical", [0, 1]).encode(torch.tensor([[[0.0, 4.0]]]))


def test_bad_density_and_mode():
    with pytest.raises(InputError, match="density must be in"):
        random_masks(1, (8, 8), density=0)
    with pytest.raises(InputError, match="mode 'pointy' is unknown"):
        random_masks(1, (8, 8), mode="pointy")


def test_padded_keeps_wells_in_place():
    c = from_points((5, 6), [4], [5], [1.0]).padded(16, 16)
    assert c.shape == (16, 16) and c.mask[4, 5] and c.count == 1
    assert isinstance(c, Constraints)
    moved = from_points((5, 6), [4], [5], [1.0]).padded(16, 16, top=3, left=10)
    assert moved.mask[7, 15] and moved.values[7, 15] == 1.0 and moved.count == 1
    with pytest.raises(GridError, match="does not fit"):
        from_points((5, 6), [4], [5], [1.0]).padded(16, 16, top=12)


def test_canvas_places_and_crops_back():
    cons = from_points((5, 6), [0, 4], [0, 5], [1.0, 2.0])
    canvas = Canvas(32, 32, 13, 2, (5, 6))
    placed = canvas.place(cons)
    np.testing.assert_array_equal(canvas.crop(placed.values), cons.values)
    np.testing.assert_array_equal(canvas.crop(placed.mask), cons.mask)
    with pytest.raises(GridError, match="model.canvas"):
        canvas.place(from_points((6, 6), [0], [0], [1.0]))
