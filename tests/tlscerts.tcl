# tlscerts.tcl --
#
#	Test certificates for the TLS tests (tlscore.test, tls.test), made at
#	run time with the openssl command in a directory of the caller's
#	choice: nothing secret is kept in the source tree and nothing
#	expires between runs. EC P-256 keys: quick to generate.
#
#	    source [file join [file dirname [info script]] tlscerts.tcl]
#	    set certs [tlscerts::make $dir]   ;# a dict of file names
#	    dict get $certs server            ;# server.pem ...
#
#	What the dict holds (every value an absolute file name):
#	    ca, cakey           the test CA (CN=Courier Test CA)
#	    server, serverkey   signed by ca: CN=localhost, SANs DNS:localhost,
#	                        IP:127.0.0.1, IP:::1
#	    client, clientkey   signed by ca: CN=courier-client (clientAuth)
#	    selfsigned, selfsignedkey  self-signed, CN/SAN localhost
#	    expired, expiredkey signed by ca, CN/SAN localhost, 127.0.0.1;
#	                        valid in 2020 only
#	    wronghost, wronghostkey    signed by ca, CN/SAN wrong.example
#	                        only (no IP SAN)
#	    inter, interkey     an intermediate CA signed by ca
#	    chainleaf, chainleafkey    signed by inter: localhost, 127.0.0.1,
#	                        ::1
#	    chain               chainleaf followed by inter (a chain file
#	                        for -certfile; verifies against ca)
#	    otherca             a second CA that signed none of the above
#	tlscerts::make is idempotent for a directory: a second call with the
#	same directory returns the same files without running openssl.

namespace eval ::tlscerts {
    namespace export make available
}

# tlscerts::available --
#	1 if the openssl command can be run (a test constraint).
proc ::tlscerts::available {} {
    expr {![catch {exec openssl version}]}
}

# tlscerts::Run args --
#	Runs openssl with args; its chatter on stderr is not an error.
proc ::tlscerts::Run {args} {
    exec openssl {*}$args 2>@1
}

# tlscerts::Key file --
#	A new EC P-256 private key, PEM, unencrypted.
proc ::tlscerts::Key {file} {
    Run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $file
}

# tlscerts::Ext dir name text --
#	Writes an extensions file for openssl x509 -extfile; returns its name.
proc ::tlscerts::Ext {dir name text} {
    set f [file join $dir $name.ext]
    set ch [open $f w]
    puts $ch $text
    close $ch
    return $f
}

# tlscerts::Sign dir name subject ext caName --
#	A key and a certificate for subject, with the extensions text ext,
#	signed by the CA caName (files caName.pem, caName.key) for 825
#	days.
proc ::tlscerts::Sign {dir name subject ext caName} {
    set key [file join $dir $name.key]
    set csr [file join $dir $name.csr]
    set pem [file join $dir $name.pem]
    Key $key
    Run req -new -key $key -subj $subject -out $csr
    Run x509 -req -in $csr -CA [file join $dir $caName.pem] \
	    -CAkey [file join $dir $caName.key] -CAcreateserial \
	    -days 825 -sha256 -extfile [Ext $dir $name $ext] -out $pem
}

# tlscerts::SelfSigned dir name subject ext --
#	A self-signed certificate (used for the CAs and the self-signed
#	server certificate).
proc ::tlscerts::SelfSigned {dir name subject ext} {
    set key [file join $dir $name.key]
    Key $key
    set cfg [file join $dir $name.cnf]
    set ch [open $cfg w]
    puts $ch "\[req\]\ndistinguished_name = dn\nx509_extensions = v3\n\[dn\]\n\[v3\]\n$ext"
    close $ch
    Run req -new -x509 -key $key -subj $subject -days 825 -sha256 \
	    -config $cfg -out [file join $dir $name.pem]
}

# tlscerts::Expired dir --
#	A certificate for localhost signed by ca that was valid in 2020
#	only: openssl x509 cannot date a certificate in the past, openssl ca
#	can (it needs a small database of its own).
proc ::tlscerts::Expired {dir} {
    set db [file join $dir expired-db]
    file mkdir $db
    close [open [file join $db index.txt] w]
    set ch [open [file join $db serial] w]
    puts $ch 1000
    close $ch
    set cfg [file join $dir expired.cnf]
    set ch [open $cfg w]
    puts $ch [string map [list @DB@ $db @DIR@ $dir] {
[ca]
default_ca = test
[test]
database = @DB@/index.txt
serial = @DB@/serial
new_certs_dir = @DB@
certificate = @DIR@/ca.pem
private_key = @DIR@/ca.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
unique_subject = no
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
}]
    close $ch
    set key [file join $dir expired.key]
    set csr [file join $dir expired.csr]
    Key $key
    Run req -new -key $key -subj /CN=localhost -out $csr
    Run ca -batch -config $cfg -startdate 20200101000000Z \
	    -enddate 20201231000000Z -in $csr \
	    -out [file join $dir expired.pem] -notext
}

# tlscerts::Concat file part ... --
#	Writes the parts one after the other into file (a chain file), made
#	whole or not at all.
proc ::tlscerts::Concat {file args} {
    set out [open $file.tmp w]
    foreach part $args {
	set in [open $part]
	puts -nonewline $out [read $in]
	close $in
    }
    close $out
    file rename -force $file.tmp $file
}

# tlscerts::make dir --
#	Makes every file in dir (created if need be) unless they are
#	there already; returns the dict described at the top of this file.
proc ::tlscerts::make {dir} {
    file mkdir $dir
    set dir [file normalize $dir]
    set names {ca server client selfsigned expired wronghost inter chainleaf
	    otherca}
    set d {}
    foreach n $names {
	dict set d $n [file join $dir $n.pem]
	dict set d ${n}key [file join $dir $n.key]
    }
    dict unset d othercakey
    dict set d chain [file join $dir chain.pem]
    if {[file exists [dict get $d chain]]} {
	return $d
    }
    set caExt "basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash"
    SelfSigned $dir ca "/CN=Courier Test CA" $caExt
    SelfSigned $dir otherca "/CN=Courier Other CA" $caExt
    set leaf "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature,keyEncipherment"
    Sign $dir server /CN=localhost \
	    "$leaf\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1" ca
    Sign $dir client /CN=courier-client \
	    "$leaf\nextendedKeyUsage = clientAuth" ca
    Sign $dir wronghost /CN=wrong.example \
	    "$leaf\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:wrong.example" ca
    SelfSigned $dir selfsigned /CN=localhost \
	    "basicConstraints = CA:FALSE\nsubjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1"
    Expired $dir
    Sign $dir inter "/CN=Courier Test Intermediate" \
	    "basicConstraints = critical,CA:TRUE,pathlen:0\nkeyUsage = critical,keyCertSign,cRLSign" ca
    Sign $dir chainleaf /CN=localhost \
	    "$leaf\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1" inter
    Concat [dict get $d chain] [dict get $d chainleaf] [dict get $d inter]
    return $d
}

# tlscerts::makeBig dir --
#	Adds to the files of tlscerts::make (called first) a chain of about
#	6 KB, for tests of a handshake that takes many reads and writes:
#	    biginter, biginterkey  an intermediate CA signed by ca, with a
#	                        2 KB comment
#	    bigleaf, bigleafkey signed by biginter: localhost, 127.0.0.1, ::1
#	                        and 60 more names
#	    bigchain            bigleaf followed by biginter
#	Returns make's dict with these keys added.
proc ::tlscerts::makeBig {dir} {
    set d [make $dir]
    set dir [file normalize $dir]
    foreach n {biginter bigleaf} {
	dict set d $n [file join $dir $n.pem]
	dict set d ${n}key [file join $dir $n.key]
    }
    dict set d bigchain [file join $dir bigchain.pem]
    if {[file exists [dict get $d bigchain]]} {
	return $d
    }
    Sign $dir biginter "/CN=Courier Test Big Intermediate" \
	    "basicConstraints = critical,CA:TRUE,pathlen:0\nkeyUsage = critical,keyCertSign,cRLSign\nnsComment = \"[string repeat {padding } 256]\"" ca
    set names {DNS:localhost IP:127.0.0.1 IP:::1}
    for {set i 0} {$i < 60} {incr i} {
	lappend names DNS:name-$i.courier-big-chain.test
    }
    Sign $dir bigleaf /CN=localhost \
	    "basicConstraints = CA:FALSE\nkeyUsage = digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = [join $names ,]" biginter
    Concat [dict get $d bigchain] [dict get $d bigleaf] \
	    [dict get $d biginter]
    return $d
}
