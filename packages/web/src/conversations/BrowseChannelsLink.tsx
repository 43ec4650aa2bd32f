import { navigate, useRoute } from '../state/router.ts';
import { Icon } from '../ui/Icon.tsx';

/** The sidebar's way into the channel directory (its styles are in channels/channels.css). */
export function BrowseChannelsLink() {
  const route = useRoute();
  const here = route.name === 'channels';
  return (
    <button type="button" className={`sidebar-browse ${here ? 'active' : ''}`} aria-current={here ? 'page' : undefined} onClick={() => navigate('/channels')}>
      <Icon name="users" size={16} /> Browse channels
    </button>
  );
}
