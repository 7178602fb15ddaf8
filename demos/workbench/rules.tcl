# rules.tcl --
#
#	Auto-responders (no Tk): rules that answer a received message.
#	A rule is a dict:
#	    scope   "any", or an item id (a listener's rule applies to its
#		    accepted clients)
#	    match   exact | prefix | regex
#	    pattern what to compare the message with
#	    reply   the answer, with \n \r \t \\ \xNN and captures \0-\9
#		    (regex: the match and its groups; prefix: \0 the
#		    message, \1 what follows the prefix; exact: \0)
#	    enabled 1 | 0
#	The message is never evaluated: captures are put into the reply
#	by string operations (payload.tcl's unescape).

namespace eval ::workbench {
    variable rules {}		;# List of rule dicts, in order.
    variable ruleHits 0		;# Replies sent by rules.
}

# workbench::checkRule rule --
#	Validates a rule dict; returns it completed (enabled 1 by default).

proc ::workbench::checkRule {rule} {
    if {[catch {dict size $rule}]} {
	Fail VALUE rule "expected a dict, got \"$rule\""
    }
    set result {scope any match exact pattern {} reply {} enabled 1}
    dict for {key value} $rule {
	if {$key ni {scope match pattern reply enabled}} {
	    Fail OPTION $key "unknown rule field \"$key\": must be enabled,\
		    match, pattern, reply or scope"
	}
	dict set result $key $value
    }
    Enum match [dict get $result match] {exact prefix regex}
    if {![string is boolean -strict [dict get $result enabled]]} {
	Fail VALUE enabled "expected a boolean, got\
		\"[dict get $result enabled]\""
    }
    if {[dict get $result match] eq "regex"
	    && [catch {regexp -about [dict get $result pattern]} msg]} {
	Fail VALUE pattern "bad regular expression\
		\"[dict get $result pattern]\": $msg"
    }
    # The reply must decode (a bad \x is an error now, not per message).
    unescape [dict get $result reply] {x}
    return $result
}

# workbench::setRules list --
#	Replaces the rules (each checked first: all or nothing).

proc ::workbench::setRules {list} {
    variable rules
    set checked [lmap rule $list {checkRule $rule}]
    set rules $checked
    Notify rules {}
}

proc ::workbench::addRule {rule} {
    variable rules
    lappend rules [checkRule $rule]
    Notify rules {}
}

# workbench::hasRules id --
#	Whether any enabled rule applies to item id: OnData looks at
#	single messages only then.

proc ::workbench::hasRules {id} {
    variable rules
    if {![llength $rules]} {
	return 0
    }
    set scopes [list any $id [itemGet $id parent]]
    foreach rule $rules {
	if {[dict get $rule enabled] && [dict get $rule scope] in $scopes} {
	    return 1
	}
    }
    return 0
}

# workbench::respond id message --
#	The replies that the first matching rule gives to message on item
#	id (a list of zero or one value to send).

proc ::workbench::respond {id message} {
    variable rules
    variable ruleHits
    set scopes [list any $id [itemGet $id parent]]
    foreach rule $rules {
	if {![dict get $rule enabled] || [dict get $rule scope] ni $scopes} {
	    continue
	}
	set captures [Match $rule $message]
	if {[llength $captures]} {
	    incr ruleHits
	    set o [itemGet $id options]
	    set textual [expr {[dict get $o framing] eq "line"
		    && [dict get $o encoding] ne "binary"}]
	    return [list [Join [unescape [dict get $rule reply] $captures] \
		    $textual [dict get $o encoding]]]
	}
    }
    return {}
}

# workbench::Match rule message --
#	The captures of message under rule ({whole group1 ...}), or an
#	empty list when it does not match.

proc ::workbench::Match {rule message} {
    set pattern [dict get $rule pattern]
    switch -- [dict get $rule match] {
	exact {
	    if {$message eq $pattern} {
		return [list $message]
	    }
	}
	prefix {
	    if {[string equal -length [string length $pattern] $pattern \
		    $message]} {
		return [list $message \
			[string range $message [string length $pattern] end]]
	    }
	}
	regex {
	    set m [regexp -inline -- $pattern $message]
	    if {[llength $m]} {
		return $m
	    }
	}
    }
    return {}
}
