# view_graph.tcl --
#
#	Live graphs on a canvas: messages/s and bytes/s, in and out, of the
#	selected item (solid) and of all connections (dashed), over the
#	last 60 s. Redrawn once a second from statistics.tcl's history.

namespace eval ::workbench {
    variable graphColours {in #1a4fa0 out #1c7a2e}
}

proc ::workbench::buildGraphs {w} {
    ttk::frame $w
    foreach name {msgs bytes} {
	canvas $w.$name -height 96 -width 300 -background white \
		-highlightthickness 0 -borderwidth 1 -relief solid
	bind $w.$name <Configure> ::workbench::drawGraphs
    }
    grid $w.msgs $w.bytes -sticky ew
    grid configure $w.msgs -padx {0 3}
    grid configure $w.bytes -padx {3 0}
    grid columnconfigure $w {0 1} -weight 1 -uniform g
}

# workbench::drawGraphs --
#	Redraws both graphs (a few dozen canvas items).

proc ::workbench::drawGraphs {} {
    variable ui
    if {![winfo exists .nb.traffic.graph.msgs]} {
	return
    }
    set id $ui(current)
    if {$id ne "" && ![itemExists $id]} {
	set id {}
    }
    set mine [expr {$id eq "" ? {} : [rateHistory $id]}]
    set total [rateHistory total]
    foreach {graph columns unit} {msgs {0 2} messages/s bytes {1 3} bytes/s} {
	set series {}
	foreach col $columns dir {in out} {
	    if {$id ne ""} {
		lappend series $dir $dir {} [lmap s $mine {lindex $s $col}]
	    }
	    lappend series "all $dir" $dir {4 3} \
		    [lmap s $total {lindex $s $col}]
	}
	set title [expr {$id eq "" ? $unit : "$id $unit"}]
	drawGraph .nb.traffic.graph.$graph $title $series
    }
}

# workbench::drawGraph canvas unit series --
#	series: {label dir dash values ...}. The y axis is scaled to the
#	largest value, rounded up to 1, 2 or 5 times a power of ten.

proc ::workbench::drawGraph {c unit series} {
    variable graphColours
    $c delete all
    set w [winfo width $c]
    set h [winfo height $c]
    if {$w < 50 || $h < 40} {
	return
    }
    set left 40
    set bottom [expr {$h - 6}]
    set right [expr {$w - 6}]
    set max 0
    foreach {label dir dash values} $series {
	foreach v $values {
	    set max [expr {max($max, $v)}]
	}
    }
    set scale [NiceMax $max]
    # The title and the legend first, on as many lines as the width
    # needs (a narrow window wraps them instead of cutting them off).
    set lx 4
    set ly 2
    set lineBottom 14
    set items [list $unit gray20]
    foreach {label dir dash values} $series {
	lappend items "$label [ShortNumber [lindex $values end]]" \
		[dict get $graphColours $dir]
    }
    foreach {text colour} $items {
	if {$text eq ""} continue
	set t [$c create text $lx $ly -anchor nw -font TkSmallCaptionFont \
		-fill $colour -text $text]
	lassign [$c bbox $t] x0 y0 x1 y1
	if {$x1 > $right && $lx > 4} {
	    set ly [expr {$y1 + 1}]
	    set lx 4
	    $c coords $t $lx $ly
	    lassign [$c bbox $t] x0 y0 x1 y1
	}
	set lx [expr {$x1 + 10}]
	set lineBottom $y1
    }
    if {$ly == 2 && $lx < $right - 60} {
	$c create text $right 2 -anchor ne -font TkSmallCaptionFont \
		-fill gray60 -text "last 60 s"
    }
    set top [expr {$lineBottom + 10}]
    if {$bottom - $top < 20} {
	return
    }
    foreach frac {0 0.5 1} {
	set y [expr {$bottom - $frac * ($bottom - $top)}]
	$c create line $left $y $right $y -fill gray88
	$c create text [expr {$left - 4}] $y -anchor e -font TkSmallCaptionFont \
		-fill gray40 -text [ShortNumber [expr {$frac * $scale}]]
    }
    foreach {label dir dash values} $series {
	set n [llength $values]
	set step [expr {($right - $left) / double(max(1, $n - 1))}]
	set coords {}
	set i 0
	foreach v $values {
	    lappend coords [expr {$left + $i * $step}] \
		    [expr {$bottom - $v / double($scale) * ($bottom - $top)}]
	    incr i
	}
	$c create line {*}$coords -fill [dict get $graphColours $dir] \
		-dash $dash -width [expr {$dash eq "" ? 2 : 1}]
    }
}

proc ::workbench::NiceMax {max} {
    if {$max <= 0} {
	return 1
    }
    # 10.0: below 1 (a p99 of 0.8 ms) the power is negative, and the
    # integer 10 ** -1 would be 0.
    set p [expr {10.0 ** int(floor(log10($max)))}]
    foreach m {1 2 5 10} {
	if {$m * $p >= $max * 0.999999} {
	    set v [expr {$m * $p}]
	    return [expr {$v >= 1 ? int(round($v)) : $v}]
	}
    }
    return $max
}

# workbench::ShortNumber n ?unit? --
#	1234567 -> 1.2M.

proc ::workbench::ShortNumber {n {unit {}}} {
    foreach {limit div suffix} {1e3 1 "" 1e6 1e3 k 1e9 1e6 M 1e18 1e9 G} {
	if {abs($n) < $limit} {
	    set v [expr {$n / double($div)}]
	    set text [expr {$v == round($v) || abs($v) >= 100 ? int(round($v))
		    : [format %.1f $v]}]
	    return [string trim "$text$suffix $unit"]
	}
    }
    return [string trim "$n $unit"]
}
