"""The lifelong normaliser: batch-by-batch statistics equal the statistics of all rows at once."""

import pytest
import torch

from editor import Normalizer
from editor.errors import EditorError


def test_streaming_statistics_equal_one_pass_over_all_rows():
    torch.manual_seed(0)
    batches = [torch.randn(n, 6) * 3 + 10 for n in (1, 7, 50, 3, 200)]
    norm = Normalizer()
    for b in batches:
        norm.update("4x2", b)
    everything = torch.cat(batches).double()
    mean, std = norm.mean_std("4x2")
    assert norm.count("4x2") == 261
    torch.testing.assert_close(mean, everything.mean(dim=0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(std, everything.std(dim=0, unbiased=False), rtol=1e-12, atol=1e-12)
    z = norm.normalize("4x2", batches[2])
    expected = (batches[2].double() - everything.mean(0)) / (everything.std(0, unbiased=False) + 1e-6)
    torch.testing.assert_close(z, expected.float())


def test_state_round_trips_through_a_file(tmp_path):
    torch.manual_seed(1)
    norm = Normalizer()
    norm.update("3x5", torch.randn(20, 8))
    norm.update("2x2", torch.randn(9, 4))
    norm.update_keys("transformer.h.1.mlp.c_proj", torch.randn(9, 3))
    norm.save(tmp_path / "norm.safetensors")
    restored = Normalizer.load(tmp_path / "norm.safetensors")
    assert restored.keys == norm.keys
    more = torch.randn(11, 8)
    norm.update("3x5", more)
    restored.update("3x5", more)
    assert torch.equal(restored.key_sum("transformer.h.1.mlp.c_proj"), norm.key_sum("transformer.h.1.mlp.c_proj"))
    for key in norm.keys:
        assert restored.count(key) == norm.count(key)
        for a, b in zip(norm.mean_std(key), restored.mean_std(key), strict=True):
            assert torch.equal(a, b)


def test_the_key_sum_is_stored_as_its_upper_triangle_and_earlier_whole_sums_still_load(tmp_path):
    norm = Normalizer()
    norm.update_keys("m", torch.randn(30, 64))
    norm.save(tmp_path / "norm.safetensors")
    stored = (tmp_path / "norm.safetensors").stat().st_size
    assert stored < 0.55 * 64 * 64 * 8, "half the bytes of the whole (64, 64) float64 sum, and a little header"
    assert torch.equal(Normalizer.load(tmp_path / "norm.safetensors").key_sum("m"), norm.key_sum("m"))

    whole = {"cov::m.count": torch.tensor([30]), "cov::m.sum": norm.key_sum("m").clone()}
    assert torch.equal(Normalizer.from_state_dict(whole).key_sum("m"), norm.key_sum("m"))
    with pytest.raises(EditorError, match="not a triangle"):
        Normalizer.from_state_dict({"cov::m.count": torch.tensor([30]), "cov::m.triu": torch.zeros(7)})


def test_state_size_does_not_depend_on_rows_seen():
    norm = Normalizer()
    norm.update("4x4", torch.randn(10, 8))
    norm.update_keys("m", torch.randn(10, 4))
    size = norm.nbytes
    for _ in range(20):
        norm.update("4x4", torch.randn(100, 8))
        norm.update_keys("m", torch.randn(100, 4))
    assert norm.nbytes == size


def test_a_copy_keeps_its_statistics_while_the_original_moves_on():
    torch.manual_seed(3)
    norm = Normalizer()
    norm.update("4x4", torch.randn(10, 8))
    norm.update_keys("m", torch.randn(10, 4))
    snapshot = norm.copy()
    before = (snapshot.mean_std("4x4"), snapshot.key_sum("m").clone())
    norm.update("4x4", torch.randn(50, 8) + 5)
    norm.update_keys("m", torch.randn(50, 4))
    assert snapshot.count("4x4") == 10 and norm.count("4x4") == 60
    assert all(torch.equal(a, b) for a, b in zip(snapshot.mean_std("4x4"), before[0], strict=True))
    assert torch.equal(snapshot.key_sum("m"), before[1])
    assert not torch.equal(norm.key_sum("m"), before[1])


def test_rows_given_a_count_weigh_as_that_many_rows():
    """A prior's strength: the calibration's statistics can weigh as fewer rows than it has, so a large
    batch is standardised mostly by its own rows while a lone fact still has statistics to lean on."""
    torch.manual_seed(0)
    prior, batch = torch.randn(233, 4) * 2 + 5, torch.randn(40, 4) - 1
    weighed = Normalizer()
    weighed.update("2x2", prior, count=20)
    assert weighed.count("2x2") == 20
    alone = Normalizer()
    alone.update("2x2", prior)
    torch.testing.assert_close(weighed.mean_std("2x2"), alone.mean_std("2x2"))  # the same mean and spread
    weighed.update("2x2", batch)
    mean, _ = weighed.mean_std("2x2")
    expected = (20 * prior.double().mean(0) + 40 * batch.double().mean(0)) / 60
    torch.testing.assert_close(mean, expected, rtol=1e-12, atol=1e-12)
    alone.update("2x2", batch)
    # The batch pulls the weighed statistics much closer to its own mean than the full-weight ones.
    gap = batch.double().mean(0)
    assert ((weighed.mean_std("2x2")[0] - gap).abs() < (alone.mean_std("2x2")[0] - gap).abs()).all()
