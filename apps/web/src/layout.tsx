import { NavLink, Outlet } from 'react-router';
import { useSession } from './session.tsx';

export function Layout() {
  const { role, signOut } = useSession();
  return (
    <>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Qualys PC Connector</span>
        <nav aria-label="Main">
          <NavLink to="/" end>
            Overview
          </NavLink>
          <NavLink to="/integrations">Integrations</NavLink>
          <NavLink to="/hosts">Hosts</NavLink>
          <NavLink to="/findings">Host Findings</NavLink>
          <a href="/admin/queues">Job board</a>
        </nav>
        <span className="who">Signed in as {role}</span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="content">
        <Outlet />
      </main>
    </>
  );
}
