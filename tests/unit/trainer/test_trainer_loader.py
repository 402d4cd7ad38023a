import pytest

from opto.trainer import DataLoader, DatasetError
from opto.trainer.loader import check_dataset

DATA = {"inputs": list(range(10)), "infos": [x * 10 for x in range(10)]}


def test_batches_pair_inputs_with_infos_and_are_always_full():
    loader = DataLoader(DATA, batch_size=4, seed=1)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    for xs, infos in batches:
        assert len(xs) == 4
        assert infos == [x * 10 for x in xs]
    first_epoch = [x for xs, _ in batches[:2] for x in xs] + batches[2][0][:2]
    assert sorted(first_epoch) == list(range(10))
    assert loader.n_epochs == 1


def test_the_same_seed_gives_the_same_order_and_another_seed_another():
    def order(seed):
        loader = DataLoader(DATA, batch_size=3, seed=seed)
        return [loader.next_indices() for _ in range(7)]

    assert order(3) == order(3)
    assert order(3) != order(4)


def test_without_shuffle_the_order_is_the_dataset_order():
    loader = DataLoader(DATA, batch_size=4, shuffle=False)
    assert [loader.next_indices() for _ in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert DataLoader(DATA, randomize=False).next_indices() == [0]


def test_each_epoch_is_a_new_permutation():
    loader = DataLoader(DATA, batch_size=5, seed=0)
    epochs = [sorted(loader.next_indices() + loader.next_indices()) for _ in range(3)]
    assert all(epoch == list(range(10)) for epoch in epochs)
    assert loader.n_epochs == 3


def test_sampling_with_replacement_counts_epochs_by_examples_drawn():
    loader = DataLoader(DATA, batch_size=4, replacement=True, seed=2)
    drawn = [loader.next_indices() for _ in range(5)]
    assert all(len(batch) == 4 and all(0 <= i < 10 for i in batch) for batch in drawn)
    assert loader.n_epochs == 2


def test_state_round_trip_continues_with_the_same_batches():
    loader = DataLoader(DATA, batch_size=3, seed=5)
    for _ in range(4):
        loader.next_indices()
    state = loader.state_dict()
    expected = [loader.next_indices() for _ in range(6)]
    restored = DataLoader(DATA, batch_size=3, seed=999)
    restored.load_state_dict(state)
    assert [restored.next_indices() for _ in range(6)] == expected
    assert restored.n_epochs == loader.n_epochs


def test_state_of_another_dataset_is_refused():
    state = DataLoader(DATA).state_dict()
    with pytest.raises(DatasetError, match="10 examples"):
        DataLoader({"inputs": [1], "infos": [2]}).load_state_dict(state)


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ([1, 2], "must be a dict"),
        ({"inputs": [1]}, "no 'infos'"),
        ({"inputs": [1, 2], "infos": [1]}, "2 inputs but 1 infos"),
        ({"inputs": [], "infos": []}, "empty"),
    ],
)
def test_bad_datasets_get_a_clear_error(dataset, message):
    with pytest.raises(DatasetError, match=message):
        check_dataset(dataset)


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(DATA, batch_size=0)


def test_sample_returns_inputs_and_infos():
    xs, infos = DataLoader(DATA, batch_size=2, shuffle=False).sample()
    assert (xs, infos) == ([0, 1], [0, 10])


def test_a_new_dataset_of_another_size_starts_a_new_order():
    loader = DataLoader(DATA, batch_size=3, shuffle=False)
    loader.sample()
    loader.dataset = {"inputs": ["a", "b"], "infos": [1, 2]}
    assert loader.sample() == (["a", "b", "a"], [1, 2, 1])
    with pytest.raises(DatasetError):
        loader.dataset = {"inputs": [1]}
