const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });

export function dayKey(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatTime(iso: string): string {
  return timeFmt.format(new Date(iso));
}

/** "Today", "Yesterday", "Monday, March 3", or with the year when not this year. */
export function formatDay(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const startOf = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((startOf(now) - startOf(d)) / 86_400_000);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  return d.getFullYear() === now.getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
}

/** For the sidebar: the time today, the weekday this week, else a date. */
export function formatShort(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const age = now.getTime() - d.getTime();
  if (dayKey(iso) === dayKey(now.toISOString())) return timeFmt.format(d);
  if (age < 6 * 86_400_000) return weekdayFmt.format(d);
  return shortFmt.format(d);
}

export function formatLastSeen(iso: string | null, now = Date.now()): string {
  if (!iso) return 'offline';
  const mins = Math.round((now - new Date(iso).getTime()) / 60_000);
  if (mins < 1) return 'last seen just now';
  if (mins < 60) return `last seen ${mins} min ago`;
  const hours = Math.round(mins / 60);
  if (hours < 24) return `last seen ${hours} h ago`;
  return `last seen ${shortFmt.format(new Date(iso))}`;
}
