# Shared by container.t and container-make.t (POSIX sh), sourced after
# lib.sh: a "container" whose /proc is masked as Docker and containerd
# mask it, made with the kernel's own features.
#
#   masked CMD...   CMD as the test user in a new user and mount namespace
#                   (unshare -Urm) with the masks of Docker's default spec
#                   (moby's masked and read-only paths, where this kernel
#                   has them) and /sys read-only

need unshare

# The masks of Docker's default spec (moby's oci defaults: masked paths
# and read-only paths), applied where this kernel has the path.
cat >"$WORK/mask.sh" <<'MASK'
set -e
for p in /proc/asound /proc/acpi /proc/interrupts /proc/kcore /proc/keys /proc/latency_stats \
	/proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware; do
	[ -e "$p" ] || continue
	if [ -d "$p" ]; then mount -t tmpfs -o ro tmpfs "$p"; else mount --bind /dev/null "$p"; fi
done
for p in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do
	[ -e "$p" ] || continue
	mount --bind "$p" "$p"
	mount -o remount,bind,ro "$p"
done
mount -o remount,bind,ro /sys
MASK
chmod 644 "$WORK/mask.sh"

masked() { as_user unshare -Urm sh -c '. "$1"; shift; exec "$@"' sh "$WORK/mask.sh" "$@"; }
