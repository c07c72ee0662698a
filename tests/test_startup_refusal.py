"""A model failing verification at start-up is refused, and the staff panel's model list says so."""

from kiosk.store.catalog import Catalog
from kiosk.store.models import ModelStore


def test_corrupt_model_is_refused_and_shown_to_staff(tmp_path):
    store = ModelStore(tmp_path, system_dirs=[tmp_path / "no-system-store"])
    voice = store.install_embedded(Catalog().models["en_US-joe-medium"])
    onnx = voice.file("en_US-joe-medium.onnx")
    data = bytearray(onnx.read_bytes())
    data[1000] ^= 0xFF
    onnx.write_bytes(bytes(data))
    refused = store.startup_check()
    assert set(refused) == {"en_US-joe-medium"}
    # What the worker sends the staff panel (ModelsChecked): sizes and this store's refusals.
    rows = {row.id: row for row in store.inventory(full=False)}
    assert rows["en_US-joe-medium"].state == "corrupt" and rows["en_US-joe-medium"].refused
    # Refusals belong to the store that checked: another store on the same folder has none.
    assert ModelStore(tmp_path).inventory(full=False)[0].state == "installed"
