#!/usr/bin/env bash
# Builds fuzz/corpus/<target>/ (not committed) from:
#   - node_exporter's fixtures (its proc, sys and textfile trees), read in
#     place: give their directory as the first argument (default: the
#     repository's copy, testdata/upstream/node_exporter);
#   - this repository's own test fixtures (exporter/tests/fixtures) and
#     example files (packaging/examples, rules/examples);
#   - the hand-written seeds in fuzz/seeds/.
# Each seed is laid out as its target reads input: a selector byte, then
# files separated by NUL bytes (see fuzz/README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
oracle="${1:-$repo/testdata/upstream/node_exporter}"
if [ ! -d "$oracle/proc" ]; then
  echo "node_exporter fixtures not found at $oracle (pass their directory)" >&2
  exit 1
fi
corpus="$here/corpus"
fixtures="$repo/exporter/tests/fixtures"
mkdir -p "$corpus"

# seed TARGET NAME SELECTOR FILE... : the selector byte (a number, or - for
# none), then each file's content, NUL between files (a missing file is empty).
seed() {
  local target=$1 name=$2 sel=$3
  shift 3
  mkdir -p "$corpus/$target"
  {
    if [ "$sel" != - ]; then printf "\\x$(printf %02x "$sel")"; fi
    local first=1 f
    for f in "$@"; do
      if [ $first = 0 ]; then printf '\0'; fi
      first=0
      if [ -f "$f" ]; then cat "$f"; fi
    done
  } > "$corpus/$target/$name"
}

# --- host_proc: selector = index of the case in fuzz_targets/host_proc.rs
p="$oracle/proc"
seed host_proc loadavg 0 "$p/loadavg"
seed host_proc meminfo 1 "$p/meminfo"
seed host_proc stat 2 "$p/stat"
seed host_proc cpu 3 "$p/stat" "$p/cpuinfo"
seed host_proc vmstat 4 "$p/vmstat"
seed host_proc diskstats 5 "$p/diskstats" "$oracle/udev/b8:0"
seed host_proc netdev 6 "$fixtures/proc/net_dev"
seed host_proc netstat 7 "$p/net/netstat" "$p/net/snmp" "$p/net/snmp6"
seed host_proc sockstat 8 "$p/net/sockstat" "$p/net/sockstat6"
seed host_proc softnet 9 "$p/net/softnet_stat"
seed host_proc conntrack 10 "$p/sys/net/netfilter/nf_conntrack_count" "$p/sys/net/netfilter/nf_conntrack_max" "$p/net/stat/nf_conntrack"
seed host_proc schedstat 11 "$p/schedstat"
seed host_proc pressure 12 "$p/pressure/cpu" "$p/pressure/io" "$p/pressure/memory" "$p/pressure/irq"
seed host_proc mountinfo-1 13 "$p/1/mountinfo"
seed host_proc mountinfo-10 13 "$p/10/mountinfo"
seed host_proc mdstat 14 "$p/mdstat"
seed host_proc interrupts 15 "$p/interrupts"
seed host_proc interrupts-aarch64 15 "$p/interrupts_aarch64"
seed host_proc arp 16 "$p/net/arp"
seed host_proc filefd 17 "$p/sys/fs/file-nr"
seed host_proc entropy 18 "$p/sys/kernel/random/entropy_avail" "$p/sys/kernel/random/poolsize"
seed host_proc udp 19 "$p/net/udp"
for pid in 1 10 11; do
  seed host_proc "processes-$pid" 20 "$p/$pid/stat" "$p/sys/kernel/pid_max" "$p/sys/kernel/threads-max"
done
seed host_proc zoneinfo 21 "$p/zoneinfo"
seed host_proc buddyinfo 22 "$p/buddyinfo"
seed host_proc slabinfo 23 "$p/slabinfo"
seed host_proc softirqs 24 "$p/softirqs"
seed host_proc swaps 25 "$p/swaps"
seed host_proc cgroups 26 "$p/cgroups"
seed host_proc kernel-hung 27 "$p/sys/kernel/hung_task_detect_count"
seed host_proc nfs 28 "$p/net/rpc/nfs"
seed host_proc nfsd 29 "$p/net/rpc/nfsd"
seed host_proc drbd 30 "$p/drbd"
seed host_proc xfrm 31 "$p/net/xfrm_stat"
seed host_proc ipvs 32 "$p/net/ip_vs_stats" "$p/net/ip_vs"
seed host_proc lnstat 33 "$p/net/stat/nf_conntrack" "$p/net/stat/arp_cache"
seed host_proc mountstats 34 "$p/10/mountinfo" "$p/10/mountstats"
seed host_proc zfs 35 "$p/spl/kstat/zfs/arcstats" "$p/spl/kstat/zfs/zil" "$p/spl/kstat/zfs/pool1/state" "$p/spl/kstat/zfs/pool1/io"

# --- host_sys: records "PATH\nCONTENT" of every file of a device directory.
# A class entry that is a file holding a relative link target (how the
# fixtures store sysfs links) is followed.
device_dir() {
  local entry=$1
  if [ -d "$entry" ]; then
    echo "$entry"
  elif [ -f "$entry" ] && [ "$(wc -l < "$entry")" -le 1 ]; then
    local target
    target="$(dirname "$entry")/$(cat "$entry")"
    if [ -d "$target" ]; then echo "$target"; fi
  fi
}
# sys_seed NAME SELECTOR CLASS_DIR [SUBDIR]: one seed per class directory,
# records DEVICE[/SUBDIR]/FILE.
sys_seed() {
  local name=$1 sel=$2 class=$3 sub=${4:-}
  [ -d "$class" ] || return 0
  local out="$corpus/host_sys/$name"
  mkdir -p "$corpus/host_sys"
  {
    printf "\\x$(printf %02x "$sel")"
    local first=1 entry dir f
    for entry in "$class"/*; do
      dir="$(device_dir "$entry")"
      [ -n "$dir" ] || continue
      [ -z "$sub" ] || dir="$dir/$sub"
      [ -d "$dir" ] || continue
      for f in "$dir"/*; do
        [ -f "$f" ] || continue
        if [ $first = 0 ]; then printf '\0'; fi
        first=0
        printf '%s\n' "$(basename "$entry")${sub:+/$sub}/$(basename "$f")"
        head -c 256 "$f" | tr -d '\0'
      done
    done
  } > "$out"
}
s="$oracle/sys"
sys_seed hwmon 0 "$s/class/hwmon"
sys_seed thermal 1 "$s/class/thermal"
sys_seed power_supply 2 "$s/class/power_supply"
sys_seed netclass 3 "$s/class/net"
sys_seed cpufreq 4 "$s/devices/system/cpu" cpufreq
sys_seed cpu-topology 5 "$s/devices/system/cpu" topology
sys_seed cpu-throttle 5 "$s/devices/system/cpu" thermal_throttle
sys_seed watchdog 6 "$s/class/watchdog"
sys_seed clocksource 7 "$s/devices/system/clocksource"
sys_seed md 8 "$s/block" md
if [ -f "$s/devices/system/cpu/isolated" ]; then
  { printf '\x05/isolated\n'; cat "$s/devices/system/cpu/isolated"; } > "$corpus/host_sys/cpu-isolated"
fi
for dir in "$oracle"/textfile/*/; do
  [ -d "$dir" ] || continue
  out="$corpus/host_sys/textfile-$(basename "$dir")"
  {
    printf '\x0a'
    first=1
    for f in "$dir"*.prom; do
      [ -f "$f" ] || continue
      if [ $first = 0 ]; then printf '\0'; fi
      first=0
      printf '%s\n' "$(basename "$f" .prom)"
      cat "$f"
    done
  } > "$out"
done

# --- cgroup: the repository's v1 and v2 fixtures, in the target's file order.
v1="$(find "$fixtures/cgroup/v1/cpuacct/docker" -mindepth 1 -maxdepth 1 -type d | head -1)"
if [ -n "$v1" ]; then
  id="$(basename "$v1")"
  c="$fixtures/cgroup/v1"
  seed cgroup v1 1 \
    "$c/cpuacct/docker/$id/cpuacct.usage" "$c/cpuacct/docker/$id/cpuacct.stat" \
    "$c/cpu/docker/$id/cpu.cfs_quota_us" "$c/cpu/docker/$id/cpu.stat" \
    "$c/memory/docker/$id/memory.usage_in_bytes" "$c/memory/docker/$id/memory.stat" \
    "$c/memory/docker/$id/memory.limit_in_bytes" "$c/memory/docker/$id/memory.oom_control" \
    "$c/blkio/docker/$id/blkio.bfq.io_service_bytes_recursive" "$c/blkio/docker/$id/blkio.bfq.io_serviced_recursive" \
    "$c/blkio/docker/$id/blkio.io_service_bytes_recursive" \
    "$c/blkio/docker/$id/blkio.throttle.io_service_bytes_recursive" "$c/blkio/docker/$id/blkio.throttle.io_serviced_recursive" \
    "$c/pids/docker/$id/pids.current" "$c/pids/docker/$id/pids.max" "$c/cpu/docker/$id/cgroup.procs" \
    "$(find "$c/proc" -path '*/net/dev' | head -1)"
fi
v2="$(find "$fixtures/cgroup/v2/system.slice" -mindepth 1 -maxdepth 1 -type d | head -1)"
if [ -n "$v2" ]; then
  seed cgroup v2 2 \
    "$v2/cpu.stat" "$v2/cpu.max" "$v2/memory.current" "$v2/memory.stat" "$v2/memory.swap.current" \
    "$v2/memory.max" "$v2/memory.events" "$v2/io.stat" "$v2/pids.current" "$v2/pids.max" "$v2/cgroup.procs" \
    "$(find "$fixtures/cgroup/v2/proc" -path '*/net/dev' | head -1)"
fi
n=0
while IFS= read -r f; do
  n=$((n + 1))
  seed cgroup "file-$n" 0 "$f"
done < <(find "$fixtures/cgroup" -type f ! -name '*.md' ! -name '*.json' | sort)

# --- docker_json: the inspect fixture alone and after a one-entry list.
if [ -f "$fixtures/cgroup/v1/inspect.json" ]; then
  seed docker_json inspect - "$fixtures/cgroup/v1/inspect.json"
fi

# --- proxmox_json: one endpoint's bodies, in the target's order.
px="$fixtures/proxmox"
for node in pve1 pve2; do
  log="$(find "$px/nodes/$node/tasks" -name log.json | head -1)"
  content="$(find "$px/nodes/$node/storage" -name content.json | head -1)"
  config="$(find "$px/nodes/$node" -name config.json | head -1)"
  seed proxmox_json "cluster-$node" - \
    "$px/cluster/status.json" "$px/cluster/resources.json" "$px/version.json" \
    "$px/cluster/backup-info/not-backed-up.json" "$px/cluster/config/qdevice.json" "$config" \
    "$px/nodes/$node/replication.json" "$px/nodes/$node/subscription.json" "$px/nodes/$node/tasks.json" \
    "$content" "$log"
done
sa="$px/standalone"
seed proxmox_json standalone - \
  "$sa/cluster/status.json" "$sa/cluster/resources.json" "$sa/version.json" \
  "$sa/cluster/backup-info/not-backed-up.json" "" "$sa/nodes/pve-solo/qemu/300/config.json" \
  "$sa/nodes/pve-solo/replication.json" "$sa/nodes/pve-solo/subscription.json" "$sa/nodes/pve-solo/tasks.json" \
  "$sa/nodes/pve-solo/storage/local/content.json"

# --- config and inventory: the example files.
seed config example 0 "$repo/packaging/examples/config.yaml"
seed inventory example - "$repo/rules/examples/homelab.yaml"

# --- the hand-written seeds.
cp -r "$here/seeds/." "$corpus/"
for t in "$corpus"/*/; do
  echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
