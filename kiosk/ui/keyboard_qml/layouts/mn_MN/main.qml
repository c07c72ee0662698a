// Mongolian Cyrillic for the kiosk: the letters in the order of the Mongolian standard keyboard
// (MNS 5217), with ө and ү; ё on е. Symbols and digits come from Qt's fallback layouts.
import QtQuick
import QtQuick.Layouts
import QtQuick.VirtualKeyboard
import QtQuick.VirtualKeyboard.Components

KeyboardLayout {
    sharedLayouts: ['symbols']
    keyWeight: 160
    readonly property real normalKeyWidth: normalKey.width
    readonly property real functionKeyWidth: mapFromItem(normalKey, normalKey.width / 2, 0).x
    KeyboardRow {
        Key { text: "ф" }
        Key { id: normalKey; text: "ц" }
        Key { text: "у" }
        Key { text: "ж" }
        Key { text: "э" }
        Key { text: "н" }
        Key { text: "г" }
        Key { text: "ш" }
        Key { text: "ү" }
        Key { text: "з" }
        Key { text: "к" }
        Key { text: "ъ" }
    }
    KeyboardRow {
        Key { text: "й" }
        Key { text: "ы" }
        Key { text: "б" }
        Key { text: "ө" }
        Key { text: "а" }
        Key { text: "х" }
        Key { text: "р" }
        Key { text: "о" }
        Key { text: "л" }
        Key { text: "д" }
        Key { text: "п" }
        Key { text: "е"; alternativeKeys: "её" }
    }
    KeyboardRow {
        ShiftKey {}
        Key { text: "я" }
        Key { text: "ч" }
        Key { text: "с" }
        Key { text: "м" }
        Key { text: "и" }
        Key { text: "т" }
        Key { text: "ь" }
        Key { text: "в" }
        Key { text: "ю" }
        Key { text: "щ" }
        BackspaceKey {}
    }
    KeyboardRow {
        SymbolModeKey { weight: functionKeyWidth; Layout.fillWidth: false }
        ChangeLanguageKey { weight: normalKeyWidth; Layout.fillWidth: false }
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "," }
        SpaceKey {}
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "." }
        HideKeyboardKey { weight: normalKeyWidth; Layout.fillWidth: false }
        EnterKey { weight: functionKeyWidth; Layout.fillWidth: false }
    }
}
