# tlspkg.tcl --
#
#	A TLS peer for tests/tls.test on the tls package (Debian's tcl-tls,
#	TclTLS: OpenSSL driven through a Tcl channel, no Courier code), run
#	in a child tclsh:
#	    tclsh tlspkg.tcl server echo PORT CERT KEY CA
#	        listens on 127.0.0.1 (PORT 0: any), prints "ready PORT",
#	        sends back what one client sends until it closes, prints
#	        "end eof"
#	    tclsh tlspkg.tcl client check PORT CERT KEY CA FILE
#	        connects (verifying the server against CA), sends FILE while
#	        reading; once as many bytes came back prints "same N" or
#	        "differ AT", closes
#	The handshake runs in blocking mode (the package's non-blocking
#	handshake is not what is tested here).

package require tls

lassign $argv role action port cert key ca file
after 60000 {puts stderr "tlspkg.tcl: still running after 60 s"; exit 9}

proc say {args} {
    puts [join $args]
    flush stdout
}

proc accept {chan host port} {
    fconfigure $chan -blocking 1 -translation binary
    if {[catch {tls::handshake $chan} msg]} {
	say refused $msg
	exit 0
    }
    fconfigure $chan -blocking 0 -buffering none
    say handshaken [dict get [tls::status $chan] version]
    fileevent $chan readable [list echo $chan]
}

proc echo {chan} {
    if {[catch {read $chan} data]} {
	say end error $data
	exit 0
    }
    puts -nonewline $chan $data
    if {[eof $chan]} {
	fileevent $chan readable {}
	catch {close $chan}
	say end eof
	exit 0
    }
}

proc collect {chan} {
    global back want
    if {[catch {read $chan} data]} {
	say end error $data
	exit 0
    }
    append back $data
    if {[string length $back] >= [string length $want] || [eof $chan]} {
	fileevent $chan readable {}
	if {$back eq $want} {
	    say same [string length $back]
	} else {
	    set at 0
	    while {[string index $back $at] eq [string index $want $at]} {
		incr at
	    }
	    say differ $at [string length $back] [string length $want]
	}
	close $chan
	exit 0
    }
}

if {$role eq "server"} {
    set listener [tls::socket -server accept -myaddr 127.0.0.1 \
	    -certfile $cert -keyfile $key -cafile $ca $port]
    say ready [lindex [fconfigure $listener -sockname] 2]
} else {
    set f [open $file rb]
    set want [read $f]
    close $f
    set back ""
    set chan [tls::socket -cafile $ca -require 1 -servername localhost \
	    127.0.0.1 $port]
    fconfigure $chan -blocking 1 -translation binary
    tls::handshake $chan
    say handshaken [dict get [tls::status $chan] version]
    fconfigure $chan -blocking 0 -buffering full -buffersize 65536
    fileevent $chan readable [list collect $chan]
    puts -nonewline $chan $want
    flush $chan
}
vwait forever
