# tls.tcl --
#
#	The Workbench's model of TLS (no Tk): the TLS settings an item
#	keeps among its options, the Courier options they become, what a
#	connection's handshake told ($conn tls) put into words for the
#	view, and a test certificate made by "openssl req" in a child
#	process (courier::spawn), so that the window never waits for it.
#
#	The settings, in an item's option dict (saved in the workspace as
#	they are: file names, never what the files hold):
#	    tls 0|1        TLS on this connection or listener
#	    cafile F       PEM file of the CAs trusted (empty: the system's)
#	    certfile F     our certificate (a listener's is required; a
#	                   client's is sent when the server asks for one)
#	    keyfile F      its private key (empty: in certfile)
#	    servername N   SNI and the name checked (client; empty: the host
#	                   when it is a name)
#	    alpn {P ...}   protocols offered (client) or accepted (listener)
#	    verify 0|1     client: check the server's certificate and name
#	                   (default 1; 0 is shown as "not verified"
#	                   everywhere); listener: require and check client
#	                   certificates (default 0)

namespace eval ::workbench {
    variable certGen {}		;# The openssl child making a certificate.
    variable certOutput {}	;# What it said (its stdout and stderr).
    variable certFiles {courier-test-cert.pem courier-test-key.pem}
}

# workbench::CheckTlsOption key value --
#	Checks one TLS setting; returns its value as kept (booleans as 0/1,
#	ALPN as a list). Errors name the setting and what was expected.

proc ::workbench::CheckTlsOption {key value} {
    switch -- $key {
	tls - verify {
	    if {![string is boolean -strict $value]} {
		Fail VALUE $key "bad $key \"$value\": expected a boolean"
	    }
	    return [string is true $value]
	}
	cafile - certfile - keyfile {
	    if {[string first \0 $value] >= 0 || [string trim $value] ne $value} {
		Fail VALUE $key "bad $key \"$value\": expected a file name"
	    }
	    return $value
	}
	servername {
	    if {[regexp {[\s\0]} $value]} {
		Fail VALUE servername "bad servername \"$value\": expected a\
			host name without spaces"
	    }
	    return $value
	}
	alpn {
	    return [parseAlpn $value]
	}
    }
}

# workbench::parseAlpn text --
#	ALPN protocol names from a list or from text such as "h2, http/1.1"
#	(commas or spaces between them); each 1 to 255 printable ASCII
#	characters.

proc ::workbench::parseAlpn {text} {
    set result {}
    foreach name [split $text ", \t\n"] {
	if {$name eq ""} {
	    continue
	}
	if {[string length $name] > 255 || ![regexp {^[\x21-\x7E]+$} $name]} {
	    Fail VALUE alpn "bad ALPN protocol name \"$name\": expected 1 to\
		    255 printable ASCII characters"
	}
	if {$name ni $result} {
	    lappend result $name
	}
    }
    return $result
}

# workbench::tlsOptions o kind --
#	The Courier options (courier::connect when kind is "client",
#	courier::listen when "listener") for the TLS settings in the item
#	options o: none when TLS is off. Empty settings are left out, so
#	that Courier's defaults (the system's trust store, the server name
#	from the host) apply.

proc ::workbench::tlsOptions {o kind} {
    if {![TlsOn $o]} {
	return {}
    }
    set result [list -tls 1 -verify [dict get $o verify]]
    set keys {cafile certfile keyfile alpn}
    if {$kind eq "client"} {
	lappend keys servername
    }
    foreach key $keys {
	if {[llength [dict get $o $key]]} {
	    lappend result -$key [dict get $o $key]
	}
    }
    return $result
}

# workbench::TlsOn o --
#	Whether the item options o have TLS on (items made before TLS,
#	such as UDP sockets, have no such option).

proc ::workbench::TlsOn {o} {
    return [expr {[dict exists $o tls] && [dict get $o tls]}]
}

# workbench::TakeTls id handle --
#	Keeps what the handshake told ($handle tls) in the item, where it
#	stays after the connection closes.

proc ::workbench::TakeTls {id handle} {
    variable item
    if {[TlsOn $item($id,options)] && ![catch {$handle tls} info]} {
	set item($id,tlsInfo) $info
    }
}

# workbench::OnHandshake id handle --
#	-onconnect of a client accepted by a TLS listener: its handshake
#	is done.

proc ::workbench::OnHandshake {id handle} {
    variable item
    if {![info exists item($id,kind)]} {
	return
    }
    TakeTls $id $handle
    SetState $id open
    TlsEvent $id
}

# workbench::tlsState id --
#	"" (not TLS), "pending" (handshake not done), "failed" (the
#	connection ended in an error before its handshake was done),
#	"verified" (the peer's certificate was checked), "unverified" (a
#	client that was told not to check: -verify 0) or "encrypted" (a
#	client of a listener that does not ask for client certificates:
#	normal for a server; and a TLS listener).

proc ::workbench::tlsState {id} {
    variable item
    if {![TlsOn $item($id,options)]} {
	return ""
    }
    if {$item($id,kind) eq "listener"} {
	return encrypted
    }
    set info $item($id,tlsInfo)
    if {![dict exists $info protocol] || [dict get $info protocol] eq ""} {
	return [expr {$item($id,state) eq "error" ? "failed" : "pending"}]
    }
    if {[dict get $info verified]} {
	return verified
    }
    if {$item($id,kind) eq "accepted"} {
	return encrypted
    }
    return unverified
}

# workbench::TlsEvent id --
#	The traffic row that says how a handshake ended.

proc ::workbench::TlsEvent {id} {
    variable item
    set state [tlsState $id]
    if {$state in {"" pending failed}} {
	return
    }
    set d [tlsDetails $id]
    set text "TLS: [dict get $d Protocol], [dict get $d Cipher]"
    if {[dict get $item($id,tlsInfo) alpn] ne ""} {
	append text ", ALPN [dict get $item($id,tlsInfo) alpn]"
    }
    append text "; [dict get $d Verified]"
    Event $id $text
}

# workbench::TlsDescription id --
#	The TLS part of describe: "", ", TLS", ", TLS verified", ...

proc ::workbench::TlsDescription {id} {
    switch -- [tlsState $id] {
	"" { return "" }
	pending - failed { return ", TLS" }
	verified { return ", TLS verified" }
	unverified { return ", TLS NOT VERIFIED" }
	encrypted { return ", TLS" }
    }
}

# workbench::tlsDetails id --
#	What the view's TLS panel shows, as a dict of label -> text, in
#	order: Protocol, Cipher, ALPN, Server name, Verified, Subject,
#	Issuer, Valid, SHA-256, Session. Empty when the item is not TLS.

proc ::workbench::tlsDetails {id} {
    variable item
    set state [tlsState $id]
    if {$state eq ""} {
	return {}
    }
    set o $item($id,options)
    set i $item($id,tlsInfo)
    if {$state in {pending failed}} {
	if {$state eq "failed"} {
	    set protocol "handshake failed"
	    set verified "Failed: [regsub {^error: } $item($id,reason) {}]"
	} else {
	    set protocol "handshake not done"
	    set verified [expr {[dict get $o verify] ? "Not verified yet"
		    : "NOT VERIFIED: verification is turned off"}]
	}
	return [dict create Protocol $protocol Cipher "" ALPN "" \
		"Server name" [dict get $o servername] Verified $verified \
		Subject "" Issuer "" Valid "" SHA-256 "" Session ""]
    }
    set verified [switch -- $state {
	verified {
	    expr {$item($id,kind) eq "accepted"
		    ? "Verified: the client's certificate was checked\
		      ([dict get $i verifyResult])"
		    : "Verified: the server's certificate and name were\
		      checked ([dict get $i verifyResult])"}
	}
	encrypted {
	    string cat "Not verified: this listener does not ask clients" \
		    " for a certificate"
	}
	unverified {
	    if {[string match "not verified*" [dict get $i verifyResult]]} {
		string cat "NOT VERIFIED: verification was turned off, so" \
			" anyone on the path could pose as the server"
	    } else {
		string cat "NOT VERIFIED: " [dict get $i verifyResult]
	    }
	}
    }]
    set none [expr {$item($id,kind) eq "accepted"
	    ? "no client certificate" : "no certificate"}]
    set valid ""
    if {[dict get $i peerNotAfter] ne ""} {
	set valid "[dict get $i peerNotBefore] to [dict get $i peerNotAfter]"
	append valid [ExpiryNote [dict get $i peerNotAfter]]
    }
    return [dict create \
	    Protocol [dict get $i protocol] \
	    Cipher [dict get $i cipher] \
	    ALPN [Or [dict get $i alpn] "none"] \
	    "Server name" [Or [dict get $i servername] "none sent"] \
	    Verified $verified \
	    Subject [Or [dict get $i peerSubject] $none] \
	    Issuer [Or [dict get $i peerIssuer] $none] \
	    Valid $valid \
	    SHA-256 [dict get $i peerSHA256] \
	    Session [expr {[dict get $i sessionReused] ? "resumed" : "new"}]]
}

proc ::workbench::Or {value default} {
    expr {$value eq "" ? $default : $value}
}

# workbench::ExpiryNote notAfter ?now? --
#	" (expired)", " (expires in 3 days)", ... for a date as OpenSSL
#	prints it ("Dec  6 07:00:00 2027 GMT"); "" if it cannot be read.

proc ::workbench::ExpiryNote {notAfter {now {}}} {
    if {$now eq ""} {
	set now [clock seconds]
    }
    set end [CertTime $notAfter]
    if {$end eq ""} {
	return ""
    }
    set days [expr {($end - $now) / 86400}]
    if {$end <= $now} {
	return " (expired)"
    } elseif {$days < 1} {
	return " (expires today)"
    } elseif {$days == 1} {
	return " (expires in 1 day)"
    }
    return " (expires in $days days)"
}

# workbench::CertTime text --
#	Seconds since 1970 of a date as OpenSSL prints it ("Dec  6 07:00:00
#	2027 GMT"), or "". Plain arithmetic (days from the civil date), not
#	"clock scan", whose first call loads Tcl's clock library and would
#	hold the event loop some 40 ms inside a callback.

proc ::workbench::CertTime {text} {
    set months {Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec}
    if {![regexp {^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$} \
	    [string trim $text] -> mon d hh mm ss y]
	    || [set m [lsearch -exact $months $mon]] < 0} {
	return ""
    }
    incr m
    scan "$d $hh $mm $ss $y" %d%d%d%d%d d hh mm ss y
    # Days from 1970-01-01 to y-m-d (March-based years, 400-year eras).
    if {$m <= 2} {
	incr y -1
    }
    set era [expr {$y / 400}]
    set yoe [expr {$y - $era * 400}]
    set doy [expr {(153 * ($m > 2 ? $m - 3 : $m + 9) + 2) / 5 + $d - 1}]
    set doe [expr {$yoe * 365 + $yoe / 4 - $yoe / 100 + $doy}]
    set days [expr {$era * 146097 + $doe - 719468}]
    return [expr {$days * 86400 + $hh * 3600 + $mm * 60 + $ss}]
}

# workbench::tlsHint id message --
#	For a TLS error, a row that says what to do about it; "" for
#	others.

proc ::workbench::tlsHint {id message} {
    variable item
    if {![TlsOn $item($id,options)]} {
	return ""
    }
    switch -glob -- $message {
	"certificate verify failed: *expired*" {
	    return "hint: the peer's certificate has expired (or this\
		    machine's clock is wrong)"
	}
	"certificate verify failed: *" {
	    return "hint: the peer's certificate is not from a CA this\
		    connection trusts: give that CA's file as CA file in the\
		    TLS settings (a self-signed certificate is its own CA)"
	}
	"hostname mismatch: *" {
	    return "hint: connect to a name the certificate is for, or set\
		    Server name to one of them"
	}
	"*peer did not return a certificate*" {
	    return "hint: this listener requires a client certificate;\
		    the client sent none"
	}
    }
    return ""
}

# --- A test certificate ---------------------------------------------------

# workbench::generateCertificate dir cmd --
#	Writes a self-signed certificate for localhost, 127.0.0.1 and ::1
#	(EC P-256, valid 365 days) and its key into dir, as
#	courier-test-cert.pem and courier-test-key.pem (replacing files of
#	those names), with "openssl req" in a child process. Returns at
#	once; later calls {*}cmd ok {certfile keyfile} or {*}cmd error
#	message. One at a time.

proc ::workbench::generateCertificate {dir cmd} {
    variable certGen
    variable certOutput
    variable certFiles
    if {$certGen ne ""} {
	Fail BUSY certificate "a test certificate is being generated already"
    }
    if {$dir eq "" || ![file isdirectory $dir] || ![file writable $dir]} {
	Fail VALUE dir "cannot write into \"$dir\": expected a folder\
		this user can write to"
    }
    lassign [lmap f $certFiles {file join [file normalize $dir] $f}] cert key
    set argv [list openssl req -x509 -newkey ec \
	    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 365 \
	    -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 \
	    -keyout $key -out $cert]
    set certOutput {}
    if {[catch {courier::spawn $argv -stderr merge -framing line \
	    -ondata {apply {{p line} {lappend ::workbench::certOutput $line}}} \
	    -onexit [list ::workbench::CertDone $cert $key $cmd]} p]} {
	Fail VALUE openssl "cannot run openssl: $p"
    }
    set certGen $p
    return
}

proc ::workbench::CertDone {cert key cmd p code signal} {
    variable certGen
    variable certOutput
    set certGen {}
    if {$code == 0 && [file exists $cert] && [file exists $key]} {
	# Only its owner may read the key, whatever openssl did.
	catch {file attributes $key -permissions 0600}
	{*}$cmd ok [list $cert $key]
	return
    }
    set why [expr {$signal ne "" ? "killed by $signal" : "exit status $code"}]
    set said [string trim [join [lrange $certOutput end-2 end] "; "]]
    {*}$cmd error "openssl failed ($why)[expr {$said eq "" ? "" : ": $said"}]"
}

# workbench::generatingCertificate --
#	Whether a test certificate is being generated.

proc ::workbench::generatingCertificate {} {
    variable certGen
    return [expr {$certGen ne ""}]
}
