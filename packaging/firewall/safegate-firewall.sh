#!/bin/sh
# safegate-firewall.sh apply|remove|status — firewall rules for safegate on a gateway.
#
# What "apply" installs, for IPv4 (iptables-legacy) and IPv6 (ip6tables-legacy), in chains of
# its own so "remove" takes away exactly what it added (docs/inline.md explains every rule):
#
#   nat    PREROUTING -> SAFEGATE_DNS     DNS (UDP and TCP 53) from clients is redirected to
#                                         safegated's DNS proxy (SAFEGATE_DNS_MODE=redirect).
#   mangle FORWARD    -> SAFEGATE_INLINE  1. a decision the daemon put on the packet mark
#                                            (verdict "repeat") is saved to the connection mark;
#                                         2. the connection mark is restored to the packet;
#                                         3. decided-allow flows are accepted here (offload:
#                                            the rest of the flow never reaches user space);
#                                         4. decided-block flows are dropped;
#                                         5. -> SAFEGATE_FAILMODE: sources of fail-closed
#                                            groups jump to SAFEGATE_FAILCLOSED (queued to
#                                            SAFEGATE_FAIL_CLOSED_QUEUES without --queue-bypass:
#                                            dropped while safegated is down, and dropped when
#                                            that queue is full since safegated binds it
#                                            without the kernel's fail-open flag);
#                                            safegated writes this chain from groups[].fail on
#                                            every start and reload;
#                                         6. everything else from the clients (TCP and UDP) is
#                                            queued with --queue-bypass (passes while down).
#
# The last rules safegated wrote ($SAFEGATE_STATE_DIR/firewall-failmode.v4 / .v6) are loaded
# on "apply", so the daemon and the rules may be started in either order.
#
# Settings (environment, or a file given with --config FILE holding VAR=value lines):
#   SAFEGATE_LAN_IF            interface facing the clients (required for apply: without it
#                              the DNS redirect and the queue rules would match packets from
#                              the WAN too, making safegated an open resolver)
#   SAFEGATE_DNS_MODE          redirect (default) | inline (DNS is queued and decided inline)
#   SAFEGATE_DNS_PORT          local port of the DNS proxy (default 53)
#   SAFEGATE_QUEUES            NFQUEUE number or range "first:last" (default 0; must match
#                              inline.queues in safegate.toml)
#   SAFEGATE_FAIL_CLOSED_QUEUES  queue number or range for fail-closed groups (must match
#                              inline.fail_closed_queues; default: SAFEGATE_QUEUES, then a
#                              full queue does what inline.fail_open says for every group)
#   SAFEGATE_OFFLOAD_MARK      inline.offload_mark (default 1): bit for "decided, allow";
#                              the next bit up means "decided, block"
#   SAFEGATE_STATE_DIR         safegated's daemon.state_dir (default /var/lib/safegate)
#   SAFEGATE_FAIL_CLOSED_SOURCES  extra CIDRs (v4 and v6, space-separated) that are fail-closed
#                              whatever the policy says (the policy's groups are handled by
#                              SAFEGATE_FAILMODE)
#   IPTABLES / IP6TABLES       commands to use (default iptables-legacy / ip6tables-legacy);
#                              the restore commands are "$IPTABLES-restore" / "$IP6TABLES-restore"
#
# Exit status: 0 on success; 1 on a usage error (including apply without SAFEGATE_LAN_IF); 2 when a rule could not be installed (what
# was installed is removed again, so a failed apply leaves nothing half-applied).
set -eu

usage() {
  echo "usage: $0 [--config FILE] apply|remove|status" >&2
  exit 1
}

CONFIG=""
ACTION=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) [ $# -ge 2 ] || usage; CONFIG="$2"; shift 2 ;;
    apply|remove|status) ACTION="$1"; shift ;;
    *) usage ;;
  esac
done
[ -n "$ACTION" ] || usage
if [ -n "$CONFIG" ]; then
  # shellcheck disable=SC1090
  . "$CONFIG"
fi

LAN_IF="${SAFEGATE_LAN_IF:-}"
DNS_MODE="${SAFEGATE_DNS_MODE:-redirect}"
DNS_PORT="${SAFEGATE_DNS_PORT:-53}"
QUEUES="${SAFEGATE_QUEUES:-0}"
FC_QUEUES="${SAFEGATE_FAIL_CLOSED_QUEUES:-$QUEUES}"
OFFLOAD_MARK="${SAFEGATE_OFFLOAD_MARK:-1}"
FAIL_CLOSED="${SAFEGATE_FAIL_CLOSED_SOURCES:-}"
STATE_DIR="${SAFEGATE_STATE_DIR:-/var/lib/safegate}"
IPT4="${IPTABLES:-iptables-legacy}"
IPT6="${IP6TABLES:-ip6tables-legacy}"

case "$DNS_MODE" in redirect|inline) ;; *) echo "SAFEGATE_DNS_MODE must be redirect or inline" >&2; exit 1 ;; esac
case "$QUEUES" in
  *:*) QUEUE_ARGS="--queue-balance $QUEUES" ;;
  *) QUEUE_ARGS="--queue-num $QUEUES" ;;
esac
case "$FC_QUEUES" in
  *:*) FC_QUEUE_ARGS="--queue-balance $FC_QUEUES" ;;
  *) FC_QUEUE_ARGS="--queue-num $FC_QUEUES" ;;
esac
ALLOW=$((OFFLOAD_MARK))
BLOCK=$((OFFLOAD_MARK * 2))
MASK=$((ALLOW | BLOCK))
ALLOW_HEX=$(printf '0x%x' "$ALLOW")
BLOCK_HEX=$(printf '0x%x' "$BLOCK")
MASK_HEX=$(printf '0x%x' "$MASK")
# Every rule "apply" installs is limited to packets arriving on the LAN interface. Refuse
# before touching anything (the rules already installed stay as they are) rather than match
# every interface, WAN included.
if [ "$ACTION" = apply ]; then
  case "$LAN_IF" in
    "" | *[[:space:]]*)
      echo "safegate-firewall: SAFEGATE_LAN_IF is empty or not an interface name (\"$LAN_IF\");" \
        "set it to the interface facing the clients (e.g. br-lan): without it the DNS" \
        "redirect and the inline rules would also match traffic arriving from the WAN" >&2
      exit 1
      ;;
  esac
fi
IN_LAN="-i $LAN_IF"

remove_family() {
  ipt="$1"
  # Unhook first, then empty and delete the chains; every step tolerates absence.
  while $ipt -w -t nat -D PREROUTING -j SAFEGATE_DNS 2>/dev/null; do :; done
  while $ipt -w -t mangle -D FORWARD -j SAFEGATE_INLINE 2>/dev/null; do :; done
  $ipt -w -t nat -F SAFEGATE_DNS 2>/dev/null || true
  $ipt -w -t nat -X SAFEGATE_DNS 2>/dev/null || true
  $ipt -w -t mangle -F SAFEGATE_INLINE 2>/dev/null || true
  $ipt -w -t mangle -F SAFEGATE_FAILMODE 2>/dev/null || true
  $ipt -w -t mangle -F SAFEGATE_FAILCLOSED 2>/dev/null || true
  $ipt -w -t mangle -X SAFEGATE_INLINE 2>/dev/null || true
  $ipt -w -t mangle -X SAFEGATE_FAILMODE 2>/dev/null || true
  $ipt -w -t mangle -X SAFEGATE_FAILCLOSED 2>/dev/null || true
}

apply_family() {
  ipt="$1"
  family="$2"  # 4 or 6
  if [ "$DNS_MODE" = redirect ]; then
    $ipt -w -t nat -N SAFEGATE_DNS
    # shellcheck disable=SC2086
    $ipt -w -t nat -A SAFEGATE_DNS $IN_LAN -p udp --dport 53 -j REDIRECT --to-ports "$DNS_PORT"
    # shellcheck disable=SC2086
    $ipt -w -t nat -A SAFEGATE_DNS $IN_LAN -p tcp --dport 53 -j REDIRECT --to-ports "$DNS_PORT"
    $ipt -w -t nat -I PREROUTING 1 -j SAFEGATE_DNS
  fi
  $ipt -w -t mangle -N SAFEGATE_INLINE
  $ipt -w -t mangle -A SAFEGATE_INLINE -m mark ! --mark "0/$MASK_HEX" \
    -j CONNMARK --save-mark --nfmask "$MASK_HEX" --ctmask "$MASK_HEX"
  $ipt -w -t mangle -A SAFEGATE_INLINE \
    -j CONNMARK --restore-mark --nfmask "$MASK_HEX" --ctmask "$MASK_HEX"
  $ipt -w -t mangle -A SAFEGATE_INLINE -m mark --mark "$ALLOW_HEX/$MASK_HEX" -j ACCEPT
  $ipt -w -t mangle -A SAFEGATE_INLINE -m mark --mark "$BLOCK_HEX/$MASK_HEX" -j DROP
  # Fail-closed groups: queued without --queue-bypass, so with no daemon bound the kernel drops.
  $ipt -w -t mangle -N SAFEGATE_FAILCLOSED
  for proto in tcp udp; do
    # shellcheck disable=SC2086
    $ipt -w -t mangle -A SAFEGATE_FAILCLOSED -p "$proto" -j NFQUEUE $FC_QUEUE_ARGS
  done
  # safegated may have (re)created this chain already (it replaces it on start and reload).
  $ipt -w -t mangle -N SAFEGATE_FAILMODE 2>/dev/null || true
  if [ -s "$STATE_DIR/firewall-failmode.v$family" ]; then
    "$ipt-restore" --noflush --wait=5 "$STATE_DIR/firewall-failmode.v$family" ||
      echo "safegate-firewall: warning: could not load $STATE_DIR/firewall-failmode.v$family;" \
        "fail-closed groups pass while safegated is down until it writes them again" >&2
  fi
  # shellcheck disable=SC2086
  $ipt -w -t mangle -A SAFEGATE_INLINE $IN_LAN -j SAFEGATE_FAILMODE
  for proto in tcp udp; do
    for cidr in $FAIL_CLOSED; do
      case "$cidr" in
        *:*) [ "$family" = 6 ] || continue ;;
        *) [ "$family" = 4 ] || continue ;;
      esac
      # shellcheck disable=SC2086
      $ipt -w -t mangle -A SAFEGATE_INLINE $IN_LAN -s "$cidr" -p "$proto" -j NFQUEUE $FC_QUEUE_ARGS
    done
    # shellcheck disable=SC2086
    $ipt -w -t mangle -A SAFEGATE_INLINE $IN_LAN -p "$proto" -j NFQUEUE $QUEUE_ARGS --queue-bypass
  done
  $ipt -w -t mangle -I FORWARD 1 -j SAFEGATE_INLINE
}

case "$ACTION" in
  remove)
    remove_family "$IPT4"
    remove_family "$IPT6"
    ;;
  apply)
    remove_family "$IPT4"
    remove_family "$IPT6"
    if ! (apply_family "$IPT4" 4 && apply_family "$IPT6" 6); then
      echo "safegate-firewall: could not install the rules; removing what was installed" >&2
      remove_family "$IPT4"
      remove_family "$IPT6"
      exit 2
    fi
    ;;
  status)
    for ipt in "$IPT4" "$IPT6"; do
      echo "== $ipt"
      $ipt -w -t nat -S SAFEGATE_DNS 2>/dev/null || echo "(no SAFEGATE_DNS chain)"
      $ipt -w -t mangle -S SAFEGATE_INLINE -v 2>/dev/null || echo "(no SAFEGATE_INLINE chain)"
      $ipt -w -t mangle -S SAFEGATE_FAILMODE -v 2>/dev/null || echo "(no SAFEGATE_FAILMODE chain)"
    done
    ;;
esac
