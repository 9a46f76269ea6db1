"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 16:13:39.799753
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deletion_requests',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('player_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_deletion_requests'))
    )
    op.create_table('players',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('fb_user_id', sa.String(length=64), nullable=True),
    sa.Column('coins', sa.BigInteger(), nullable=False),
    sa.Column('energy', sa.Integer(), nullable=False),
    sa.Column('energy_at', sa.BigInteger(), nullable=False),
    sa.Column('xp', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('avatar_key', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint('coins >= 0', name=op.f('ck_players_coins_nonnegative')),
    sa.CheckConstraint('energy >= 0', name=op.f('ck_players_energy_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_players')),
    sa.UniqueConstraint('fb_user_id', name=op.f('uq_players_fb_user_id'))
    )
    op.create_index('ix_players_xp_id', 'players', [sa.literal_column('xp DESC'), 'id'], unique=False)
    op.create_table('daily_rewards',
    sa.Column('player_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('coins', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_daily_rewards_player_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('player_id', 'day', name=op.f('pk_daily_rewards'))
    )
    op.create_table('friend_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('from_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('to_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint('from_id <> to_id', name=op.f('ck_friend_requests_not_self')),
    sa.ForeignKeyConstraint(['from_id'], ['players.id'], name=op.f('fk_friend_requests_from_id_players'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_id'], ['players.id'], name=op.f('fk_friend_requests_to_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_friend_requests')),
    sa.UniqueConstraint('from_id', 'to_id', name='uq_friend_requests_pair')
    )
    op.create_index('ix_friend_requests_to', 'friend_requests', ['to_id'], unique=False)
    op.create_table('friends',
    sa.Column('player_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('friend_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint('player_id <> friend_id', name=op.f('ck_friends_not_self')),
    sa.ForeignKeyConstraint(['friend_id'], ['players.id'], name=op.f('fk_friends_friend_id_players'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_friends_player_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('player_id', 'friend_id', name=op.f('pk_friends'))
    )
    op.create_index('ix_friends_friend', 'friends', ['friend_id'], unique=False)
    op.create_table('gifts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sender_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recipient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('coins', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['players.id'], name=op.f('fk_gifts_recipient_id_players'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sender_id'], ['players.id'], name=op.f('fk_gifts_sender_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gifts')),
    sa.UniqueConstraint('sender_id', 'recipient_id', 'day', name='uq_gifts_sender_recipient_day')
    )
    op.create_index('ix_gifts_recipient_claimed', 'gifts', ['recipient_id', 'claimed_at'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('player_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_idempotency_keys_player_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('player_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('player_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('op_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_ledger_player_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger')),
    sa.UniqueConstraint('player_id', 'op_key', name='uq_ledger_player_op_key')
    )
    op.create_table('rate_limits',
    sa.Column('player_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_rate_limits_player_id_players'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('player_id', name=op.f('pk_rate_limits'))
    )


def downgrade() -> None:
    op.drop_table('rate_limits')
    op.drop_table('ledger')
    op.drop_table('idempotency_keys')
    op.drop_index('ix_gifts_recipient_claimed', table_name='gifts')
    op.drop_table('gifts')
    op.drop_index('ix_friends_friend', table_name='friends')
    op.drop_table('friends')
    op.drop_index('ix_friend_requests_to', table_name='friend_requests')
    op.drop_table('friend_requests')
    op.drop_table('daily_rewards')
    op.drop_index('ix_players_xp_id', table_name='players')
    op.drop_table('players')
    op.drop_table('deletion_requests')
