import { Icon } from './Icon.tsx';

/** The back arrow at the left of a screen's header: on a phone it shows the conversation list (the drawer). */
export function DrawerButton({ onOpenDrawer }: { onOpenDrawer: () => void }) {
  return (
    <button type="button" className="icon-btn drawer-btn" aria-label="Show conversations" onClick={onOpenDrawer}>
      <Icon name="back" size={20} />
    </button>
  );
}
