"""A model failing verification at start-up is refused, and the staff panel's model list says so."""

from kiosk import catalog, models
from kiosk.ui.worker import model_rows


def test_corrupt_model_is_refused_and_shown_to_staff(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KIOSK_SYSTEM_STORES", str(tmp_path / "no-system-store"))
    voice = models.install_embedded(catalog.models()["en_US-joe-medium"])
    onnx = voice.file("en_US-joe-medium.onnx")
    data = bytearray(onnx.read_bytes())
    data[1000] ^= 0xFF
    onnx.write_bytes(bytes(data))
    try:
        refused = models.startup_check()
        assert set(refused) == {"en_US-joe-medium"}
        rows = {row.id: row for row in model_rows(full=False)}
        assert rows["en_US-joe-medium"].state == "corrupt"
    finally:
        monkeypatch.undo()
        models.startup_check()  # forget the refusal for the rest of the session
