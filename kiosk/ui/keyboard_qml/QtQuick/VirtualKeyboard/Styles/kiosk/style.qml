// The kiosk's own keyboard style: key text at the kiosk's text size (12 mm in large-text mode)
// and the kiosk's colours, both from the `kioskKeys` context object (kiosk/ui/keyboard.py
// KeyStyle). Every key and candidate carries its text as its accessible name, which is also how
// the real-window tests find the keys to tap.
import QtQuick
import QtQuick.VirtualKeyboard
import QtQuick.VirtualKeyboard.Styles
import QtQuick.VirtualKeyboard.Settings

KeyboardStyle {
    id: style
    readonly property real gap: kioskKeys.gap
    readonly property real textPx: kioskKeys.textPx

    keyboardDesignWidth: kioskKeys.designWidth
    keyboardDesignHeight: kioskKeys.designHeight
    keyboardRelativeLeftMargin: gap / keyboardDesignWidth
    keyboardRelativeRightMargin: gap / keyboardDesignWidth
    keyboardRelativeTopMargin: gap / keyboardDesignHeight
    keyboardRelativeBottomMargin: gap / keyboardDesignHeight

    keyboardBackground: Rectangle { color: kioskKeys.background }

    // An inline component sees no ids of this file: it reads kioskKeys itself.
    component KeyFace: Rectangle {
        property var control
        property string label: control ? control.displayText : ""
        property bool accent: false
        anchors.fill: parent
        anchors.margins: kioskKeys.gap / 2
        radius: kioskKeys.gap
        color: control && control.pressed ? kioskKeys.pressed : (accent ? kioskKeys.accent : kioskKeys.key)
        border.width: kioskKeys.edge
        border.color: kioskKeys.keyEdge
        opacity: control && control.enabled ? 1.0 : 0.45
        Accessible.role: Accessible.Button
        Accessible.name: label
        Text {
            anchors.centerIn: parent
            text: parent.label
            color: control && control.pressed ? kioskKeys.pressedText
                                              : (parent.accent ? kioskKeys.accentText : kioskKeys.text)
            font.family: kioskKeys.fontFamily
            font.pixelSize: kioskKeys.textPx
            font.capitalization: control && control.uppercased && !parent.accent ? Font.AllUppercase : Font.MixedCase
        }
    }

    keyPanel: KeyPanel { id: plain; KeyFace { control: plain.control } }
    backspaceKeyPanel: KeyPanel { id: backspace; KeyFace { control: backspace.control; label: "⌫"; accent: true; Accessible.name: "backspace" } }
    enterKeyPanel: KeyPanel { id: enter; KeyFace { control: enter.control; label: "↵"; accent: true; Accessible.name: "enter" } }
    shiftKeyPanel: KeyPanel {
        id: shift
        KeyFace {
            control: shift.control; accent: true; Accessible.name: "shift"
            label: InputContext.capsLockActive ? "⇪" : "⇧"
            border.color: InputContext.shiftActive ? kioskKeys.focus : kioskKeys.keyEdge
            border.width: InputContext.shiftActive ? kioskKeys.edge * 2 : kioskKeys.edge
        }
    }
    spaceKeyPanel: KeyPanel {
        id: space
        // The space bar names the keyboard's language, in that language.
        KeyFace { control: space.control; label: Qt.locale(InputContext.locale).nativeLanguageName; Accessible.name: "space" }
    }
    symbolKeyPanel: KeyPanel { id: symbol; KeyFace { control: symbol.control; accent: true } }
    modeKeyPanel: KeyPanel { id: mode; KeyFace { control: mode.control; accent: true } }
    // The language key names the keyboard it switches to: English, or back to the side's own.
    languageKeyPanel: KeyPanel {
        id: language
        KeyFace {
            control: language.control; accent: true; Accessible.name: "language"
            label: InputContext.locale === "en_GB" && VirtualKeyboardSettings.activeLocales.length > 0
                   ? Qt.locale(VirtualKeyboardSettings.activeLocales[0]).nativeLanguageName : "English"
        }
    }
    hideKeyPanel: KeyPanel { id: hide; KeyFace { control: hide.control; label: "⌨"; accent: true; Accessible.name: "hide keyboard" } }
    handwritingKeyPanel: KeyPanel { id: handwriting; KeyFace { control: handwriting.control; accent: true } }

    characterPreviewMargin: 0
    characterPreviewDelegate: Rectangle {
        property string text
        color: kioskKeys.accent
        radius: kioskKeys.gap
        Text {
            anchors.centerIn: parent
            text: parent.text
            color: kioskKeys.accentText
            font.family: kioskKeys.fontFamily
            font.pixelSize: kioskKeys.textPx
        }
    }

    alternateKeysListItemWidth: textPx * 1.6
    alternateKeysListItemHeight: textPx * 2
    alternateKeysListDelegate: Item {
        width: style.alternateKeysListItemWidth
        height: style.alternateKeysListItemHeight
        Accessible.role: Accessible.Button
        Accessible.name: model.text
        Text {
            anchors.centerIn: parent
            text: model.text
            color: kioskKeys.accentText
            font.family: kioskKeys.fontFamily
            font.pixelSize: style.textPx
        }
    }
    alternateKeysListHighlight: Rectangle { color: kioskKeys.pressed; radius: style.gap }
    alternateKeysListBackground: Rectangle {
        color: kioskKeys.accent
        radius: style.gap
        border.width: kioskKeys.edge
        border.color: kioskKeys.keyEdge
    }

    // The word candidates (pinyin, Japanese kana-kanji, Hangul where offered).
    selectionListHeight: textPx * 1.7
    selectionListDelegate: SelectionListItem {
        id: candidate
        width: Math.round(candidateText.width + style.textPx)
        Accessible.role: Accessible.Button
        Accessible.name: display
        Text {
            id: candidateText
            anchors.centerIn: parent
            text: display
            color: kioskKeys.text
            font.family: kioskKeys.fontFamily
            font.pixelSize: style.textPx
            font.underline: candidate.ListView.isCurrentItem
        }
    }
    selectionListBackground: Rectangle { color: kioskKeys.surface }
    navigationHighlight: Rectangle {
        color: "transparent"
        border.color: kioskKeys.focus
        border.width: kioskKeys.edge * 2
    }

    popupListDelegate: SelectionListItem {
        width: popupText.width + style.textPx
        height: style.textPx * 1.7
        Accessible.role: Accessible.Button
        Accessible.name: display
        Text {
            id: popupText
            anchors.centerIn: parent
            text: display
            color: kioskKeys.text
            font.family: kioskKeys.fontFamily
            font.pixelSize: style.textPx
        }
    }
    popupListBackground: Rectangle { color: kioskKeys.surface; border.color: kioskKeys.keyEdge; border.width: kioskKeys.edge }
    popupListHighlight: Rectangle { color: kioskKeys.pressed }
    languagePopupListEnabled: false
}
