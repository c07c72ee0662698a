// Khmer symbols page: Khmer digits (Latin on hold), independent vowels, rarer signs, punctuation.
import QtQuick
import QtQuick.Layouts
import QtQuick.VirtualKeyboard
import QtQuick.VirtualKeyboard.Components

KeyboardLayout {
    keyWeight: 160
    readonly property real normalKeyWidth: normalKey.width
    readonly property real functionKeyWidth: mapFromItem(normalKey, normalKey.width / 2, 0).x
    KeyboardRow {
        Key { text: "០"; alternativeKeys: "០0" }
        Key { id: normalKey; text: "១"; alternativeKeys: "១1" }
        Key { text: "២"; alternativeKeys: "២2" }
        Key { text: "៣"; alternativeKeys: "៣3" }
        Key { text: "៤"; alternativeKeys: "៤4" }
        Key { text: "៥"; alternativeKeys: "៥5" }
        Key { text: "៦"; alternativeKeys: "៦6" }
        Key { text: "៧"; alternativeKeys: "៧7" }
        Key { text: "៨"; alternativeKeys: "៨8" }
        Key { text: "៩"; alternativeKeys: "៩9" }
        Key { text: "៛"; alternativeKeys: "៛$₩" }
        Key { text: "%" }
    }
    KeyboardRow {
        Key { text: "ឥ" }
        Key { text: "ឦ" }
        Key { text: "ឧ" }
        Key { text: "ឩ" }
        Key { text: "ឪ" }
        Key { text: "ឫ" }
        Key { text: "ឬ" }
        Key { text: "ឭ" }
        Key { text: "ឮ" }
        Key { text: "ឯ" }
        Key { text: "ឰ" }
        Key { text: "ឱ" }
    }
    KeyboardRow {
        Key { text: "ឳ" }
        Key { text: "៉"; displayText: " ៉" }
        Key { text: "៊"; displayText: " ៊" }
        Key { text: "់"; displayText: " ់" }
        Key { text: "៌"; displayText: " ៌" }
        Key { text: "៍"; displayText: " ៍" }
        Key { text: "៎"; displayText: " ៎" }
        Key { text: "៏"; displayText: " ៏" }
        Key { text: "័"; displayText: " ័" }
        Key { text: "ៗ" }
        BackspaceKey {}
    }
    KeyboardRow {
        Key { text: "។" }
        Key { text: "៕" }
        Key { text: "៖" }
        Key { text: "?" }
        Key { text: "!" }
        Key { text: "(" }
        Key { text: ")" }
        Key { text: "-" }
        Key { text: "/" }
        Key { text: ":" }
        Key { text: ";" }
        Key { text: "@" }
    }
    KeyboardRow {
        SymbolModeKey { weight: functionKeyWidth; Layout.fillWidth: false }
        ChangeLanguageKey { weight: normalKeyWidth; Layout.fillWidth: false }

        SpaceKey {}
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "," }
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "." }
        HideKeyboardKey { weight: normalKeyWidth; Layout.fillWidth: false }
        EnterKey { weight: functionKeyWidth; Layout.fillWidth: false }
    }
}
