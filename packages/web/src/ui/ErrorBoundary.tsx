import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  /** 'message': one message's place in the list; 'screen': a whole pane (sidebar, conversation, settings). */
  kind: 'message' | 'screen';
  /** When this changes (an edited message, another conversation), the content is tried again. */
  resetKey?: unknown;
  children: ReactNode;
}

/**
 * Contains a render error to the part that threw: without it, React unmounts the whole app, so one
 * message or one odd object from the server blanked the page for everyone who opened it.
 */
export class ErrorBoundary extends Component<Props, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    // Kept for whoever looks at the console; the message text itself is not logged.
    console.warn(`A ${this.props.kind} could not be shown:`, error instanceof Error ? error.message : error, info.componentStack?.split('\n', 3).join('\n'));
  }

  override componentDidUpdate(prev: Props): void {
    if (this.state.failed && prev.resetKey !== this.props.resetKey) this.setState({ failed: false });
  }

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    if (this.props.kind === 'message') {
      return (
        <div className="boundary-message" role="note">
          This message can't be shown.
        </div>
      );
    }
    return (
      <div className="boundary-screen" role="alert">
        <p>Something went wrong here.</p>
        <button type="button" className="btn" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
