# traffic.tcl --
#
#	Each item's ring of recent traffic rows (no Tk), and reading it.
#	Traffic arrives in batches (-batch 1: one callback per read). Per
#	batch the model does a constant number of operations: one lappend to
#	the ring, one write to the log, one notification. The views never
#	see single messages; they pull rows from the ring once per frame.
#
#	Ring entries are {seq0 timeUs dir messages bytes}: the rows seq0,
#	seq0+1, ... of that item, received (dir "<") or sent (">") at
#	timeUs, or an event ("*") whose single message is a sentence, and
#	their size.

namespace eval ::workbench {
    variable ringRows 20000	;# Rows of traffic kept per item...
    variable ringBudget 268435456 ;# ...and bytes, over all items.
}

# workbench::Append id timeUs dir messages --
#	Adds rows to an item's ring (dropping whole old entries beyond
#	ringRows), logs them, and tells the observers.

proc ::workbench::Append {id now dir messages} {
    variable item
    variable ringRows
    variable ids
    set n [llength $messages]
    set bytes [Bytes $id $messages]
    lappend item($id,ring) [list $item($id,seq) $now $dir $messages $bytes]
    incr item($id,seq) $n
    incr item($id,kept) $n
    incr item($id,keptBytes) $bytes
    if {$dir eq ">"} {
	incr item($id,rowsOut) $n
    }
    # Trim from the front, a whole entry at a time, to ringRows rows and
    # to the item's share of ringBudget bytes (but keep the newest
    # entry). lrange on a list that is not shared is done in place.
    set maxBytes [RingBytes]
    set drop 0
    set kept $item($id,kept)
    set keptBytes $item($id,keptBytes)
    set last [expr {[llength $item($id,ring)] - 1}]
    foreach entry $item($id,ring) {
	set len [llength [lindex $entry 3]]
	if {$drop == $last || ($kept - $len < $ringRows
		&& $keptBytes <= $maxBytes)} {
	    break
	}
	incr kept -$len
	incr keptBytes -[lindex $entry 4]
	incr drop
    }
    if {$drop} {
	set item($id,ring) [lrange $item($id,ring)[set item($id,ring) {}] \
		$drop end]
	set item($id,kept) $kept
	set item($id,keptBytes) $keptBytes
    }
    logRows $id $now $dir $messages
    Notify rows $id
}

# workbench::Bytes id messages --
#	The size of a batch, for the ring's byte budget: exact for a few
#	messages (string length of a byte array costs nothing), and for
#	many an upper bound without touching them: a batch is one read of
#	at most 64 KiB, plus the end of a line begun in earlier reads,
#	which can only be its first message.

proc ::workbench::Bytes {id messages} {
    if {[llength $messages] > 64} {
	return [expr {[string length [lindex $messages 0]] + 65536}]
    }
    set bytes 0
    foreach m $messages {
	incr bytes [string length $m]
    }
    return $bytes
}

# workbench::RingBytes --
#	How many bytes one item's ring may hold: an equal share of
#	ringBudget, from 256 KiB to 8 MiB, so that a thousand connections
#	of 64 KiB chunks cannot take gigabytes.

proc ::workbench::RingBytes {} {
    variable ids
    variable ringBudget
    return [expr {max(262144, min(8388608,
	    $ringBudget / max(1, [llength $ids])))}]
}

proc ::workbench::Event {id text} {
    Append $id [clock microseconds] * [list $text]
}

# workbench::rowsSince id seq ?max? --
#	The rows of an item from sequence number seq on, as a list
#	{seq timeUs dir message ...}, at most max of them (the newest).
#	Also returns, first, the number of rows after seq that are no
#	longer in the ring or were cut by max. Reads only the ring's tail.

proc ::workbench::rowsSince {id seq {max 1000000000}} {
    variable item
    set end $item($id,seq)
    set want [expr {min($end - $seq, $max)}]
    set rows {}
    set have 0
    set ring $item($id,ring)
    for {set i [expr {[llength $ring] - 1}]} {$i >= 0 && $have < $want} \
	    {incr i -1} {
	lassign [lindex $ring $i] seq0 time dir messages
	set n [llength $messages]
	set from [expr {max(0, $n - ($want - $have), $seq - $seq0)}]
	set chunk {}
	for {set k $from} {$k < $n} {incr k} {
	    lappend chunk [expr {$seq0 + $k}] $time $dir [lindex $messages $k]
	}
	set rows [concat $chunk $rows]
	incr have [expr {$n - $from}]
	if {$seq0 <= $seq} break
    }
    return [list [expr {$end - $seq - $have}] $rows]
}

# workbench::rowsBefore id seq max --
#	The rows of an item just before sequence number seq (at most max,
#	the newest of them), as {seq timeUs dir message ...}, oldest first.
#	For filling a view backwards.

proc ::workbench::rowsBefore {id seq max} {
    variable item
    set rows {}
    set have 0
    set ring $item($id,ring)
    for {set i [expr {[llength $ring] - 1}]} {$i >= 0 && $have < $max} \
	    {incr i -1} {
	lassign [lindex $ring $i] seq0 time dir messages
	if {$seq0 >= $seq} continue
	set to [expr {min([llength $messages], $seq - $seq0)}]
	set from [expr {max(0, $to - ($max - $have))}]
	set chunk {}
	for {set k $from} {$k < $to} {incr k} {
	    lappend chunk [expr {$seq0 + $k}] $time $dir [lindex $messages $k]
	}
	set rows [concat $chunk $rows]
	incr have [expr {$to - $from}]
    }
    return $rows
}
