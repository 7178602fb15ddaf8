# payload.tcl --
#
#	Turning what a user types into bytes to send, and bytes received
#	into something to show (no Tk). Network data and typed text are
#	only ever taken apart with string operations: nothing here goes
#	through subst, eval or a Tcl parser.

namespace eval ::workbench {
    variable sendCounter 0	;# The {counter} macro's last value.

    # Control characters shown as escapes in the text view and the log.
    variable showMap {}
    for {set i 0} {$i < 32} {incr i} {
	lappend showMap [format %c $i] [format {\x%02X} $i]
    }
    lappend showMap \x7F {\x7F}
    # The C1 controls U+0080-U+009F have no glyph of their own (a font
    # draws a stray box or bracket): \u0080 ... \u009F.
    for {set i 0x80} {$i < 0xA0} {incr i} {
	lappend showMap [format %c $i] [format {\u%04X} $i]
    }
    lset showMap [expr {2 * 9 + 1}] {\t}
    lset showMap [expr {2 * 10 + 1}] {\n}
    lset showMap [expr {2 * 13 + 1}] {\r}
    set showMap [linsert $showMap 0 \\ \\\\]
    unset i
}

# workbench::unescape text ?captures? --
#	Decodes \n \r \t \\ \xNN (a byte) and, when captures is given, \0
#	to \9 (the whole match and its groups) in text. Returns a list of
#	pieces {kind value}: kind "text" (characters) or "bytes". An unknown
#	escape stays as typed; a malformed \x is an error naming it.

proc ::workbench::unescape {text {captures {}}} {
    set pieces {}
    set start 0
    foreach {whole} [regexp -all -inline -indices {\\(x[0-9A-Fa-f]{0,2}|.)} \
	    $text] {
	lassign $whole from to
	if {$from < $start} continue
	if {$from > $start} {
	    lappend pieces text [string range $text $start [expr {$from - 1}]]
	}
	set esc [string range $text [expr {$from + 1}] $to]
	switch -glob -- $esc {
	    n { lappend pieces text \n }
	    r { lappend pieces text \r }
	    t { lappend pieces text \t }
	    {\\} { lappend pieces text \\ }
	    x?? { lappend pieces bytes [binary decode hex [string range $esc 1 2]] }
	    x* {
		Fail VALUE text "bad escape \"\\$esc\" at [expr {$from + 1}]:\
			\\x needs two hex digits"
	    }
	    [0-9] {
		if {[llength $captures]} {
		    lappend pieces text [lindex $captures $esc]
		} else {
		    lappend pieces text \\$esc
		}
	    }
	    default { lappend pieces text \\$esc }
	}
	set start [expr {$to + 1}]
    }
    if {$start < [string length $text]} {
	lappend pieces text [string range $text $start end]
    }
    return $pieces
}

# workbench::expandMacros text --
#	{counter} becomes a number that goes up by one per call (per
#	message sent), {time} the local time HH:MM:SS.mmm, {epoch} the Unix
#	time in milliseconds. Plain string replacement.

proc ::workbench::expandMacros {text} {
    variable sendCounter
    if {[string first \{ $text] < 0} {
	return $text
    }
    set ms [clock milliseconds]
    if {[string first \{counter\} $text] >= 0} {
	incr sendCounter
    }
    return [string map [list \{counter\} $sendCounter \
	    \{time\} [clock format [expr {$ms / 1000}] -format %H:%M:%S].[format %03d [expr {$ms % 1000}]] \
	    \{epoch\} $ms] $text]
}

# workbench::encodePayload mode text id --
#	The bytes the send panel puts on the wire for item id, before the
#	framing's end of line or length prefix: mode "text" (escapes and
#	macros; the text between the escapes in the item's encoding, a \xNN
#	escape exactly that byte), "hex" (hex digits, spaces allowed) or
#	"file" (text is a file name; its bytes). itemSendBytes sends them
#	unchanged on any framing and encoding.

proc ::workbench::encodePayload {mode text id} {
    set encoding [TextEncoding [itemGet $id options]]
    switch -- $mode {
	text {
	    return [Join [unescape [expandMacros $text]] $encoding]
	}
	hex {
	    set digits [string map {" " "" \n "" \t "" : "" - ""} $text]
	    if {![regexp {^([0-9A-Fa-f]{2})*$} $digits]} {
		Fail VALUE hex "expected pairs of hex digits, got \"$text\""
	    }
	    return [binary decode hex $digits]
	}
	file {
	    if {[catch {open $text rb} f]} {
		Fail VALUE file "cannot read \"$text\": $f"
	    }
	    set bytes [read $f]
	    close $f
	    return $bytes
	}
	default { Fail VALUE mode "bad mode \"$mode\": must be text, hex or file" }
    }
}

# workbench::TextEncoding options --
#	The encoding that typed text is sent in on an item with these
#	options: its -encoding, or UTF-8 where that is binary.

proc ::workbench::TextEncoding {o} {
    set encoding [dict get $o encoding]
    if {$encoding eq "binary"} {
	return utf-8
    }
    return $encoding
}

# workbench::textual options --
#	Whether Courier hands this item's messages over as text (line
#	framing with an encoding) rather than as bytes.

proc ::workbench::textual {o} {
    return [expr {[dict get $o framing] eq "line"
	    && [dict get $o encoding] ne "binary"}]
}

# workbench::Join pieces encoding --
#	Glues unescape's pieces into bytes: text encoded to encoding,
#	bytes as they are.

proc ::workbench::Join {pieces encoding} {
    set out ""
    foreach {kind value} $pieces {
	if {$kind eq "bytes"} {
	    append out $value
	} else {
	    append out [encoding convertto $encoding $value]
	}
    }
    return $out
}

# workbench::replyBytes id reply --
#	A reply computed as a string (by a rule's script) as bytes for item
#	id: on a textual item, encoded to its encoding; otherwise taken as
#	bytes when every character is below 256, else encoded to UTF-8.

proc ::workbench::replyBytes {id reply} {
    set o [itemGet $id options]
    if {[textual $o]} {
	return [encoding convertto [dict get $o encoding] $reply]
    }
    if {[regexp {[^\x00-\xFF]} $reply]} {
	return [encoding convertto utf-8 $reply]
    }
    return [encoding convertto iso8859-1 $reply]
}

# workbench::showText message --
#	A message as one line of text: backslash and control characters
#	escaped (\n, \x01, ...), so that a row is always one line.

proc ::workbench::showText {message} {
    variable showMap
    return [string map $showMap $message]
}

# workbench::showHex message ?encoding? --
#	Hex bytes, space separated. With an encoding (a text connection),
#	the message is text and shown as the bytes it is sent as; without,
#	it is bytes (characters above 255, if any, are shown as UTF-8).

proc ::workbench::showHex {message {encoding {}}} {
    if {$encoding ne ""} {
	set message [encoding convertto $encoding $message]
    } elseif {[regexp {[^\x00-\xFF]} $message]} {
	set message [encoding convertto utf-8 $message]
    }
    return [regsub -all {..(?=.)} [binary encode hex $message] {& }]
}

# workbench::timeText us --
#	HH:MM:SS.mmm of a time in microseconds, formatted once per second.

proc ::workbench::timeText {us} {
    variable lastSecond
    variable lastSecondText
    set s [expr {$us / 1000000}]
    if {![info exists lastSecond] || $s != $lastSecond} {
	set lastSecond $s
	set lastSecondText [clock format $s -format %H:%M:%S]
    }
    return $lastSecondText.[format %03d [expr {$us % 1000000 / 1000}]]
}
