# screenshots.tcl --
#
#	Takes the Workbench screenshots of doc/screenshots: the main window
#	idle, during a flood of 100-byte lines from another process, the
#	load generator at work, the Connect dialog with TLS, and a verified
#	TLS connection with its TLS panel (its certificate made by the
#	Workbench's own Tools > Generate test certificate, in a temporary
#	folder). Needs an X display (Xvfb is fine), xwd
#	and ImageMagick's convert; run from the source tree with the built
#	package on TCLLIBPATH:
#
#	    tests/with-display.sh env TCLLIBPATH=$PWD \
#		tclsh demos/workbench/screenshots.tcl doc/screenshots ?scene ...?
#
#	With scene names (idle flood load tls-connect tls), only those.

set out [file normalize [lindex $argv 0]]
set only [lrange $argv 1 end]
set app [file join [file dirname [file dirname [file normalize [info script]]]] \
	workbench.tcl]
file mkdir $out
# Scene scripts and the peer are written here, not into the tree.
set tmp [expr {[info exists env(TMPDIR)] ? $env(TMPDIR) : "/tmp"}]

# The flooding peer: 100-byte lines as fast as it can for argv[1] ms.
set peer [file join $tmp wb-shot-peer-[pid].tcl]
set f [open $peer w]
puts $f {
    lassign $argv port ms
    set s [socket 127.0.0.1 $port]
    fconfigure $s -translation binary -buffering full
    set pad [string repeat x 89]
    set n 0
    set end [expr {[clock milliseconds] + $ms}]
    while {[clock milliseconds] < $end} {
	set block ""
	for {set i 0} {$i < 1000} {incr i} {
	    append block [format %010d [incr n]] $pad \n
	}
	puts -nonewline $s $block
    }
    close $s
}
close $f

# What each scene does once the window is up; then the shot. The lag
# meter's worst is reset once a scene is set up, so that it shows the
# scene rather than the window's start-up.
set common {
    package require Tk
    source {@APP@}
    proc shoot {file} {
	update
	# The window is at +0+0, with its menu bar above ".".
	set h [expr {[winfo rooty .] + [winfo height .]}]
	exec xwd -silent -root | convert xwd:- \
		-crop [winfo width .]x$h+0+0 +repage -colors 256 png8:$file
	exit 0
    }
    # shootWindow w file: only the toplevel w (a dialog).
    proc shootWindow {w file} {
	update
	exec xwd -silent -root | convert xwd:- -crop [winfo width \
		$w]x[winfo height $w]+[winfo rootx $w]+[winfo rooty $w] \
		+repage -colors 256 png8:$file
	exit 0
    }
    # tlsPair dir: a test certificate in dir, a TLS echo listener with it
    # and a verified client; returns the client's id once it is open.
    proc tlsPair {dir} {
	file mkdir $dir
	::workbench::generateCertificate $dir {apply {{status files} {
	    set ::certs $files
	}}}
	vwait ::certs
	lassign $::certs cert key
	set l [::workbench::listen 0 127.0.0.1 [list tls 1 certfile $cert \
		keyfile $key alpn {h2 http/1.1}] 1]
	set c [::workbench::connect localhost [::workbench::itemGet $l port] \
		[list tls 1 cafile $cert alpn h2]]
	while {[::workbench::itemGet $c state] eq "connecting"} {
	    vwait ::workbench::item($c,state)
	}
	return $c
    }
}
set scenes {
    idle {--listen 7000 --echo --connect 127.0.0.1:7000} {
	after 600 {
	    .pw.side.tree selection set i2
	    set ::workbench::sp(text) {hello {counter} at {time}}
	}
	after 900 {
	    ::workbench::uiSend
	    ::workbench::uiSend
	    ::workbench::itemSendBytes i2 [::workbench::encodePayload hex \
		    {47 45 54 20 2f 0d 0a} i2]
	    ::workbench::addRule {scope i1 match prefix pattern PING reply {PONG\1}}
	    ::workbench::itemSend i2 "PING 42"
	}
	# The meter's worst counts from here: the scene, not the start-up.
	after 1200 ::workbench::resetLag
	after 2500 {shoot @OUT@/workbench-idle.png}
    }
    flood {--listen 0} {
	set port [::workbench::itemGet i1 port]
	set peer [open |[list {@TCLSH@} {@PEER@} $port 8000] r]
	proc pick {} {
	    if {[.pw.side.tree exists i2]} {
		.pw.side.tree selection set i2
		after 100 ::workbench::resetLag
	    } else {
		after 50 pick
	    }
	}
	pick
	after 6000 {shoot @OUT@/workbench-flood.png}
    }
    load {--listen 7001 --echo --load 127.0.0.1:7001 --load-conns 8
	    --load-rate 0} {
	after 1000 ::workbench::resetLag
	after 9000 {shoot @OUT@/workbench-load.png}
    }
    tls-connect {} {
	array set ::workbench::dlg {host mail.example.test port 993 tls 1
	    cafile /home/me/certs/company-ca.pem alpn imap verify 0}
	::workbench::connectDialog
	after 800 {shootWindow .connect @OUT@/workbench-tls-connect.png}
    }
    tls {} {
	set c [tlsPair @TMP@/wb-shot-tls-[pid]]
	::workbench::Select $c
	set ::workbench::sp(text) {a01 LOGIN {counter}}
	after 300 {
	    ::workbench::uiSend
	    ::workbench::uiSend
	}
	after 600 ::workbench::resetLag
	after 1800 {
	    file delete -force @TMP@/wb-shot-tls-[pid]
	    shoot @OUT@/workbench-tls.png
	}
    }
}
foreach {name args script} $scenes {
    if {[llength $only] && $name ni $only} {
	continue
    }
    set file [file join $tmp wb-shot-$name-[pid].tcl]
    set f [open $file w]
    puts $f [string map [list @APP@ $app @OUT@ $out @PEER@ $peer \
	    @TCLSH@ [info nameofexecutable] @TMP@ $tmp] \
	    "set argv {--no-workspace --geometry 1180x760+0+0 $args}\n$common\n$script"]
    close $f
    puts "$name: [exec [info nameofexecutable] $file]"
    file delete $file
}
file delete $peer
