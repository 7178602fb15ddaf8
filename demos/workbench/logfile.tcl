# logfile.tcl --
#
#	The traffic log (no Tk): every row of every item, in full, to a
#	file that rotates by size; and the export of one item's rows kept
#	in memory as text or CSV.
#
#	A log line is
#	    2026-11-22 02:03:04.123456 < i3 payload
#	with the direction < (received), > (sent) or * (event), the item id,
#	and the payload. Lines received with line framing (auto or lf) are
#	written as they are: they cannot hold a newline. Other payloads have
#	backslash and control characters escaped (\\, \r, \n, \x01, ...;
#	for binary ones bytes 0x80-0xFF too), so that one message is one
#	line. A batch of received lines costs one join and one write.

namespace eval ::workbench {
    variable log		;# Array: the log's state.
    array set log {chan {} path {} maxBytes 67108864 keep 5 bytes 0
	rows 0 second -1 secondText {} flushTimer {} flushMs 1000}
    variable logMaps		;# Array: escape maps by kind of payload.
    # Escapes of one payload without "\n" (line framing, auto or lf).
    set logMaps(line) {}
    foreach {from to} $showMap {
	if {$from ne "\n"} {
	    lappend logMaps(line) $from $to
	}
    }
    set logMaps(text) $showMap
    # Bytes 0x80-0xFF as \xNN: first in the map, so that they win over
    # showMap's \u0080-\u009F for characters.
    set logMaps(binary) {}
    for {set i 128} {$i < 256} {incr i} {
	lappend logMaps(binary) [format %c $i] [format {\x%02X} $i]
    }
    lappend logMaps(binary) {*}$showMap
    unset -nocomplain i from to
}

# workbench::startLog path ?maxBytes? ?keep? --
#	Logs every row from now on to path (appending). When the file grows
#	past maxBytes it is renamed path.1 (path.1 to path.2, ...; keep
#	files at most) and a new one begins. What is written is flushed
#	at least once a second (and at each rotation), so that a crash or
#	a kill loses at most the last second and "tail -f" follows.

proc ::workbench::startLog {path {maxBytes 67108864} {keep 5}} {
    variable log
    if {![string is entier -strict $maxBytes] || $maxBytes < 4096} {
	Fail VALUE maxBytes "expected a number of bytes of 4096 or more,\
		got \"$maxBytes\""
    }
    if {![string is entier -strict $keep] || $keep < 1 || $keep > 1000} {
	Fail VALUE keep "expected an integer from 1 to 1000, got \"$keep\""
    }
    stopLog
    file mkdir [file dirname $path]
    set chan [open $path a]
    fconfigure $chan -encoding utf-8 -translation lf -buffering full \
	    -buffersize 262144
    array set log [list chan $chan path $path maxBytes $maxBytes \
	    keep $keep bytes [file size $path] rows 0]
    set log(flushTimer) [after $log(flushMs) ::workbench::FlushTick]
    Notify log {}
}

proc ::workbench::stopLog {} {
    variable log
    after cancel $log(flushTimer)
    set log(flushTimer) {}
    if {$log(chan) ne ""} {
	catch {close $log(chan)}
	set log(chan) {}
	Notify log {}
    }
}

proc ::workbench::flushLog {} {
    variable log
    if {$log(chan) ne ""} {
	flush $log(chan)
    }
}

# workbench::FlushTick --
#	Once a second while logging: writes out what is buffered.

proc ::workbench::FlushTick {} {
    variable log
    set log(flushTimer) {}
    if {$log(chan) ne ""} {
	if {[catch {flush $log(chan)} msg]} {
	    catch {close $log(chan)}
	    set log(chan) {}
	    Notify log {}
	    return
	}
	set log(flushTimer) [after $log(flushMs) ::workbench::FlushTick]
    }
}

proc ::workbench::logging {} {
    variable log
    return [expr {$log(chan) ne ""}]
}

# workbench::logRows id timeUs dir messages --
#	Called by Append for every batch of rows.

proc ::workbench::logRows {id now dir messages} {
    variable log
    if {$log(chan) eq ""} {
	return
    }
    set prefix "[LogTime $now] $dir $id "
    set text $prefix[LogPayload $id $dir $messages $prefix]\n
    puts -nonewline $log(chan) $text
    incr log(rows) [llength $messages]
    # bytelength: the UTF-8 length the string already knows, at no cost.
    if {[incr log(bytes) [string bytelength $text]] > $log(maxBytes)} {
	Rotate
    }
}

# workbench::LogPayload id dir messages prefix --
#	The messages escaped and joined with "\n$prefix".

proc ::workbench::LogPayload {id dir messages prefix} {
    variable logMaps
    set kind [PayloadKind $id $dir]
    if {$kind eq "line"} {
	# Lines hold no "\n": written as received, joined in one pass. Any
	# other operation on the batch (a regexp, a string map) would first
	# convert 64 KiB to Unicode, which costs ten times the join.
	return [join $messages \n$prefix]
    }
    set plain [expr {$kind eq "binary" ? {[^\x20-\x5B\x5D-\x7E]}
	    : {[\x00-\x1F\\\x7F-\x9F]}}]
    return [join [lmap m $messages {
	if {[regexp $plain $m]} {
	    string map $logMaps($kind) $m
	} else {
	    set m
	}
    }] \n$prefix]
}

# workbench::PayloadKind id dir --
#	line: text lines that cannot hold a "\n"; text: characters;
#	binary: bytes.

proc ::workbench::PayloadKind {id dir} {
    if {$dir eq "*"} {
	return text
    }
    set o [itemGet $id options]
    if {[dict get $o framing] ne "line" || [dict get $o encoding] eq "binary"} {
	return binary
    }
    if {$dir eq "<" && [dict get $o translation] in {auto lf}} {
	return line
    }
    return text
}

proc ::workbench::LogTime {us} {
    variable log
    set s [expr {$us / 1000000}]
    if {$s != $log(second)} {
	set log(second) $s
	set log(secondText) [clock format $s -format "%Y-%m-%d %H:%M:%S"]
    }
    return $log(secondText).[format %06d [expr {$us % 1000000}]]
}

proc ::workbench::Rotate {} {
    variable log
    # Closing flushes the old file; the new one is flushed by FlushTick.
    close $log(chan)
    for {set i [expr {$log(keep) - 1}]} {$i >= 1} {incr i -1} {
	if {[file exists $log(path).$i]} {
	    file rename -force $log(path).$i $log(path).[expr {$i + 1}]
	}
    }
    file rename -force $log(path) $log(path).1
    set log(chan) [open $log(path) w]
    fconfigure $log(chan) -encoding utf-8 -translation lf -buffering full \
	    -buffersize 262144
    set log(bytes) 0
}

# workbench::export id path format --
#	Writes the rows of item id kept in memory to path, as "text" (the
#	log's format) or "csv" (time,direction,item,bytes,payload; the
#	payload escaped as in the log, CSV-quoted). Returns the row count.

proc ::workbench::export {id path format} {
    variable logMaps
    Enum format $format {text csv}
    lassign [rowsSince $id 0] lost rows
    set f [open $path w]
    fconfigure $f -encoding utf-8 -translation lf
    if {$format eq "csv"} {
	puts $f "time,direction,item,bytes,payload"
    }
    set n 0
    foreach {seq time dir message} $rows {
	set shown [string map $logMaps([PayloadKind $id $dir]) $message]
	if {$format eq "text"} {
	    puts $f "[LogTime $time] $dir $id $shown"
	} else {
	    puts $f [join [list [LogTime $time] $dir $id \
		    [string length $message] \
		    "\"[string map {\" \"\"} $shown]\""] ,]
	}
	incr n
    }
    close $f
    return $n
}
