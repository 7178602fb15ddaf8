# view_rules.tcl --
#
#	The auto-responders tab: the list of rules and an editor under it.
#	Rules live in the model (rules.tcl); this only edits the list.

namespace eval ::workbench {
    variable re			;# Array: the rule editor's fields.
    array set re {scope any match prefix pattern {} reply {} status {}}
}

proc ::workbench::buildRulesTab {w} {
    ttk::frame $w -padding 10
    ttk::label $w.intro -wraplength 560 -justify left -text "A received\
	    message that matches a rule gets the rule's reply (the first\
	    matching rule wins). Replies take escapes (\\n, \\xNN) and\
	    captures: \\0 the whole message or match, \\1 ... \\9 the\
	    regular expression's groups (for a prefix rule, \\1 is the\
	    rest of the message). Nothing received is ever run as code.\
	    A rule with a script computes its reply instead: the script\
	    gets message, captures, peer and connection and returns the\
	    reply (or nothing); it runs in a safe interpreter in a separate\
	    process, without files or exec, under time, command and memory\
	    limits."
    ttk::treeview $w.list -columns {on scope match pattern reply} \
	    -show headings -height 8 -selectmode browse
    foreach {col label width} {on On 40 scope Scope 150 match Match 60
	    pattern Pattern 160 reply "Reply or script" 240} {
	$w.list heading $col -text $label -anchor w
	$w.list column $col -width $width -stretch [expr {$width > 100}]
    }
    bind $w.list <<TreeviewSelect>> ::workbench::EditRule
    set e [ttk::frame $w.edit]
    ttk::label $e.lscope -text "Scope"
    ttk::combobox $e.scope -width 22 -textvariable ::workbench::re(scope) \
	    -postcommand [list ::workbench::ScopeValues $e.scope]
    ttk::label $e.lmatch -text "Match"
    ttk::combobox $e.match -width 7 -state readonly \
	    -values {exact prefix regex} -textvariable ::workbench::re(match)
    ttk::label $e.lpattern -text "Pattern"
    ttk::entry $e.pattern -width 18 -textvariable ::workbench::re(pattern)
    ttk::label $e.lreply -text "Reply"
    ttk::entry $e.reply -width 20 -textvariable ::workbench::re(reply)
    pack $e.lscope $e.scope $e.lmatch $e.match $e.lpattern $e.pattern \
	    $e.lreply -side left -padx {0 4}
    pack $e.reply -side left -fill x -expand 1
    set sc [ttk::frame $w.script]
    ttk::label $sc.label -text "Script"
    text $sc.text -height 4 -width 60 -font TkFixedFont -undo 1 \
	    -wrap none -borderwidth 1 -relief sunken
    ttk::label $sc.lex -text "Example"
    ttk::combobox $sc.example -width 18 -state readonly \
	    -values [lmap {name m p body} $scriptExamples {set name}]
    bind $sc.example <<ComboboxSelected>> ::workbench::UseScriptExample
    grid $sc.label $sc.text $sc.lex $sc.example -sticky nw -padx {0 4}
    grid columnconfigure $sc 1 -weight 1
    grid configure $sc.text -sticky nsew
    tooltip $sc.text "Optional. A Tcl script whose result is the reply\
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
	    connection"
    grid $w.intro -sticky w -pady {0 8}
    grid $w.list -sticky nsew
    grid $w.edit -sticky ew -pady {8 4}
    grid $w.script -sticky ew -pady {0 4}
    grid $w.buttons -sticky w
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
    .nb.rules.script.text delete 1.0 end
    .nb.rules.script.text insert end [dict get $rule script]
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
    set script [string trim [.nb.rules.script.text get 1.0 end-1c]]
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
    set w .nb.rules.script
    foreach {name match pattern body} $scriptExamples {
	if {$name eq [$w.example get]} {
	    set re(match) $match
	    set re(pattern) $pattern
	    $w.text delete 1.0 end
	    $w.text insert end $body
	}
    }
}
