// Khmer for the kiosk: consonants in the order of the Khmer alphabet, the subscript sign ្
// (coeng) and the dependent vowels on one page (Khmer has no letter case, so no shift page).
// Khmer digits, independent vowels and the rarer signs are on the symbols page.
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
        Key { text: "ក" }
        Key { id: normalKey; text: "ខ" }
        Key { text: "គ" }
        Key { text: "ឃ" }
        Key { text: "ង" }
        Key { text: "ច" }
        Key { text: "ឆ" }
        Key { text: "ជ" }
        Key { text: "ឈ" }
        Key { text: "ញ" }
        Key { text: "ដ" }
        Key { text: "ឋ" }
    }
    KeyboardRow {
        Key { text: "ឌ" }
        Key { text: "ឍ" }
        Key { text: "ណ" }
        Key { text: "ត" }
        Key { text: "ថ" }
        Key { text: "ទ" }
        Key { text: "ធ" }
        Key { text: "ន" }
        Key { text: "ប" }
        Key { text: "ផ" }
        Key { text: "ព" }
        Key { text: "ភ" }
    }
    KeyboardRow {
        Key { text: "ម" }
        Key { text: "យ" }
        Key { text: "រ" }
        Key { text: "ល" }
        Key { text: "វ" }
        Key { text: "ស" }
        Key { text: "ហ" }
        Key { text: "ឡ" }
        Key { text: "អ" }
        Key { text: "្"; displayText: " ្" }
        Key { text: "ំ"; displayText: " ំ" }
        Key { text: "ះ"; displayText: " ះ" }
    }
    KeyboardRow {
        Key { text: "ា"; displayText: " ា" }
        Key { text: "ិ"; displayText: " ិ" }
        Key { text: "ី"; displayText: " ី" }
        Key { text: "ឹ"; displayText: " ឹ" }
        Key { text: "ឺ"; displayText: " ឺ" }
        Key { text: "ុ"; displayText: " ុ" }
        Key { text: "ូ"; displayText: " ូ" }
        Key { text: "ួ"; displayText: " ួ" }
        Key { text: "ើ"; displayText: " ើ" }
        Key { text: "ឿ"; displayText: " ឿ" }
        Key { text: "ៀ"; displayText: " ៀ" }
        BackspaceKey {}
    }
    KeyboardRow {
        SymbolModeKey { weight: functionKeyWidth; Layout.fillWidth: false }
        ChangeLanguageKey { weight: normalKeyWidth; Layout.fillWidth: false }

        SpaceKey {}
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "េ"; displayText: " េ" }
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "ែ"; displayText: " ែ" }
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "ៃ"; displayText: " ៃ" }
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "ោ"; displayText: " ោ" }
        Key { weight: normalKeyWidth; Layout.fillWidth: false; text: "ៅ"; displayText: " ៅ" }
        HideKeyboardKey { weight: normalKeyWidth; Layout.fillWidth: false }
        EnterKey { weight: functionKeyWidth; Layout.fillWidth: false }
    }
}
