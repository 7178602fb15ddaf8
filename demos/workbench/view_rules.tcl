# view_rules.tcl --
#
#	The auto-responders tab: the list of rules and an editor under it.
#	Rules live in the model (rules.tcl); this only edits the list.

namespace eval ::workbench {
    variable re			;# Array: the rule editor's fields.
    array set re {scope any match prefix pattern {} reply {} status {}}
}

proc ::workbench::buildRulesTab {w} {
    variable scriptExamples
    ttk::frame $w -padding 10
    ttk::label $w.intro -wraplength 560 -justify left -text "A received\
	    message that matches a rule gets its reply (the first match\
	    wins): escapes \\n \\xNN, captures \\0 (the match) and \\1 ...\
	    \\9. Or a Script computes the reply from message, captures, peer\
	    and connection, in a safe interpreter in another process (no\
	    files, no exec; time, command and memory limits)."
    ttk::treeview $w.list -columns {on scope match pattern reply} \
	    -show headings -height 5 -selectmode browse
    foreach {col label width} {on On 34 scope Scope 136 match Match 52
	    pattern Pattern 70 reply "Reply or script" 100} {
	$w.list heading $col -text $label -anchor w
	$w.list column $col -width $width -stretch [expr {$width >= 70}]
    }
    bind $w.list <<TreeviewSelect>> ::workbench::EditRule
    set e [ttk::frame $w.edit]
    ttk::label $e.lscope -text "Scope"
    ttk::combobox $e.scope -width 16 -textvariable ::workbench::re(scope) \
	    -postcommand [list ::workbench::ScopeValues $e.scope]
    ttk::label $e.lmatch -text "Match"
    ttk::combobox $e.match -width 7 -state readonly \
	    -values {exact prefix regex} -textvariable ::workbench::re(match)
    ttk::label $e.lpattern -text "Pattern"
    ttk::entry $e.pattern -width 12 -textvariable ::workbench::re(pattern)
    ttk::label $e.lreply -text "Reply"
    ttk::entry $e.reply -width 12 -textvariable ::workbench::re(reply)
    # Script: a text widget (a script has lines), with its examples.
    set sc $w.script
    text $sc -height 3 -width 40 -font TkFixedFont -undo 1 \
	    -wrap none -borderwidth 1 -relief sunken
    ttk::label $e.lscript -text "Script"
    ttk::label $e.lex -text "Example"
    ttk::combobox $e.example -width 18 -state readonly \
	    -values [lmap {name m p body} $scriptExamples {set name}]
    bind $e.example <<ComboboxSelected>> ::workbench::UseScriptExample
    # Two fields a row, so that the editor fits a narrow window.
    grid $e.lscope $e.scope $e.lmatch $e.match -sticky ew -pady 2
    grid $e.lpattern $e.pattern $e.lreply $e.reply -sticky ew -pady 2
    grid $e.lscript $sc - - -sticky nsew -pady 2 -in $e
    grid x x $e.lex $e.example -sticky ew -pady 2
    foreach l {lscope lpattern lscript lmatch lreply lex} {
	grid configure $e.$l -sticky w -padx {0 4}
    }
    grid configure $e.lmatch $e.lreply $e.lex -padx {10 4}
    grid columnconfigure $e {1 3} -weight 1
    tooltip $sc "Optional. A Tcl script whose result is the reply\
	    (empty: none), run in a safe interpreter with message, captures,\
	    peer and connection; global variables persist (incr ::n). Leave\
	    empty to use Reply."
    set b [ttk::frame $w.buttons]
    ttk::button $b.add -text "Add" -command {::workbench::RuleAction add}
    ttk::button $b.update -text "Update" -command {::workbench::RuleAction update}
    ttk::button $b.toggle -text "Enable / disable" \
	    -command {::workbench::RuleAction toggle}
    ttk::button $b.delete -text "Delete" -command {::workbench::RuleAction delete}
    ttk::label $b.status -textvariable ::workbench::re(status) -foreground red3
    pack $b.add $b.update $b.toggle $b.delete -side left -padx {0 6}
    pack $b.status -side left -padx 8
    tooltip $e.scope "any: every connection; \"listener HOST:PORT\":\
	    every client that listener accepts; \"client HOST:PORT\": that\
	    connection; \"udp HOST:PORT\": that UDP socket"
    grid $w.intro -sticky w -pady {0 8}
    grid $w.list -sticky nsew
    grid $w.edit -sticky ew -pady {8 4}
    grid $w.buttons -sticky w
    bind $w <Configure> [list apply {{l width} {
	$l configure -wraplength [expr {max(200, $width - 24)}]
    }} $w.intro %w]
    grid columnconfigure $w 0 -weight 1
    grid rowconfigure $w 1 -weight 1
}

proc ::workbench::ScopeValues {combo} {
    $combo configure -values [concat any [lmap id [items] {
	if {[itemGet $id kind] eq "accepted"} continue
	scopeText [ScopeOf $id]
    }]]
}

proc ::workbench::refreshRules {} {
    variable rules
    set list .nb.rules.list
    if {![winfo exists $list]} {
	return
    }
    $list delete [$list children {}]
    set i 0
    foreach rule $rules {
	$list insert {} end -id r$i -values [list \
		[expr {[dict get $rule enabled] ? "yes" : "no"}] \
		[scopeText [dict get $rule scope]] [dict get $rule match] \
		[dict get $rule pattern] [expr {[dict get $rule script] ne ""
		? "script: [showText [dict get $rule script]]"
		: [dict get $rule reply]}]]
	incr i
    }
}

proc ::workbench::EditRule {} {
    variable rules
    variable re
    set sel [.nb.rules.list selection]
    if {$sel eq ""} {
	return
    }
    set rule [lindex $rules [string range $sel 1 end]]
    foreach key {match pattern reply} {
	set re($key) [dict get $rule $key]
    }
    set re(scope) [scopeText [dict get $rule scope]]
    .nb.rules.script delete 1.0 end
    .nb.rules.script insert end [dict get $rule script]
}

# workbench::RuleAction what --
#	add, update (the selected rule), toggle, delete. A bad rule is
#	reported under the editor and changes nothing.

proc ::workbench::RuleAction {what} {
    variable rules
    variable re
    set re(status) {}
    set sel [.nb.rules.list selection]
    set index [expr {$sel eq "" ? -1 : [string range $sel 1 end]}]
    if {$what ne "add" && $index < 0} {
	set re(status) "Select a rule first"
	return
    }
    set script [string trim [.nb.rules.script get 1.0 end-1c]]
    set rule [dict create scope $re(scope) match $re(match) \
	    pattern $re(pattern) reply $re(reply) script $script]
    set new $rules
    switch -- $what {
	add { lappend new $rule }
	update {
	    dict set rule enabled [dict get [lindex $rules $index] enabled]
	    lset new $index $rule
	}
	toggle {
	    set r [lindex $rules $index]
	    dict set r enabled [expr {![dict get $r enabled]}]
	    lset new $index $r
	}
	delete { set new [lreplace $new $index $index] }
    }
    if {[catch {setRules $new} msg]} {
	set re(status) $msg
	return
    }
    if {$what ne "delete" && $index >= 0} {
	.nb.rules.list selection set r$index
    }
}

# workbench::UseScriptExample --
#	Puts the chosen example's match, pattern and script in the editor.

proc ::workbench::UseScriptExample {} {
    variable scriptExamples
    variable re
    foreach {name match pattern body} $scriptExamples {
	if {$name eq [.nb.rules.edit.example get]} {
	    set re(match) $match
	    set re(pattern) $pattern
	    .nb.rules.script delete 1.0 end
	    .nb.rules.script insert end $body
	}
    }
}
