// The kiosk's on-screen keyboard: Qt Virtual Keyboard's InputPanel, embedded in the main window
// (kiosk/ui/keyboard.py) rather than in a desktop window of its own, which no window manager keeps up.
import QtQuick
import QtQuick.VirtualKeyboard
import QtQuick.VirtualKeyboard.Settings

InputPanel {
    id: panel
    width: parent ? parent.width : 800
    Accessible.role: Accessible.Pane
    Accessible.name: "on-screen keyboard"

    // Set while a Japanese keyboard is opening, until its input method offers hiragana.
    property bool hiraganaPending: false

    // The side's keyboard first, then English: the language key cycles through these only.
    function useLocales(locales) {
        VirtualKeyboardSettings.activeLocales = locales
        VirtualKeyboardSettings.locale = locales[0]
        hiraganaPending = locales[0] === "ja_JP"
        Qt.callLater(openInHiragana)
    }

    // Qt's Japanese input method (OpenWNN) opens in its Latin mode, where romaji stays latin;
    // the resident expects romaji to kana with kana-kanji candidates, so it opens in hiragana
    // (the あ/半角 key still switches).
    function openInHiragana() {
        const engine = InputContext.inputEngine
        if (hiraganaPending && engine.inputModes.indexOf(InputEngine.InputMode.Hiragana) !== -1) {
            hiraganaPending = false
            engine.inputMode = InputEngine.InputMode.Hiragana
        }
    }
    Connections {
        target: InputContext.inputEngine
        function onInputMethodChanged() { Qt.callLater(panel.openInHiragana) }
        function onInputModesChanged() { Qt.callLater(panel.openInHiragana) }
    }

    Component.onCompleted: {
        VirtualKeyboardSettings.styleName = "kiosk"
        VirtualKeyboardSettings.wordCandidateList.alwaysVisible = true
    }
}
